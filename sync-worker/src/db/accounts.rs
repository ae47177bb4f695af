//! What the engine reads about customers, from `customers`, `subscriptions`, `products`,
//! `benefit_grants` and `grants` together, in one round trip however many customers are asked
//! for.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::PgConnection;
use sqlx::types::Json;
use tollgate_gate::GrantAmount;
use tollgate_gate::polar::Subscription;

/// One customer's stored billing facts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    /// The app's id for the customer (Polar's `external_id`).
    pub(crate) customer: String,
    /// The subscriptions of the live Polar customers with that external id, each with the
    /// newest stored version of its product (the copy embedded in a subscription may be older
    /// than a later `product.updated`).
    pub(crate) subscriptions: Vec<Subscription>,
    /// The metadata of the benefit of each grant they hold (granted, not revoked).
    pub(crate) benefits: Vec<Map<String, Value>>,
    /// The live grants made in tollgate (not ended; expired ones are left to the engine).
    pub(crate) grants: Vec<HeldGrant>,
}

/// A grant made in tollgate, as the engine takes it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub(crate) struct HeldGrant {
    pub(crate) feature: String,
    pub(crate) amount: GrantAmount,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

type Columns = (
    String,
    Json<Vec<Subscription>>,
    Json<Vec<Map<String, Value>>>,
    Json<Vec<HeldGrant>>,
);

/// The rows of `customers`, in the order given; a customer Polar does not know has no
/// subscriptions and no grants (the default plan).
pub(crate) async fn load(
    conn: &mut PgConnection,
    customers: &[&str],
) -> Result<Vec<Row>, sqlx::Error> {
    let rows: Vec<Columns> = sqlx::query_as(
        "SELECT
             wanted.customer,
             (SELECT coalesce(jsonb_agg(CASE WHEN p.raw IS NULL THEN s.raw
                                             ELSE s.raw || jsonb_build_object('product', p.raw)
                                        END ORDER BY s.id), '[]'::jsonb)
              FROM subscriptions s
              JOIN customers c ON c.id = s.customer_id
              LEFT JOIN products p ON p.id = s.product_id
              WHERE c.external_id = wanted.customer AND c.deleted_at IS NULL),
             (SELECT coalesce(jsonb_agg(g.raw -> 'benefit' -> 'metadata' ORDER BY g.id)
                                  FILTER (WHERE jsonb_typeof(g.raw -> 'benefit' -> 'metadata') = 'object'),
                              '[]'::jsonb)
              FROM benefit_grants g JOIN customers c ON c.id = g.customer_id
              WHERE c.external_id = wanted.customer AND c.deleted_at IS NULL
                AND g.is_granted AND NOT g.is_revoked),
             (SELECT coalesce(jsonb_agg(jsonb_build_object(
                          'feature', t.feature,
                          'amount', CASE t.kind WHEN 'units' THEN to_jsonb(t.units)
                                                WHEN 'unlimited' THEN to_jsonb('unlimited'::text)
                                                ELSE to_jsonb(true) END,
                          'expires_at', t.expires_at) ORDER BY t.id), '[]'::jsonb)
              FROM grants t
              WHERE t.customer = wanted.customer AND t.ended_at IS NULL)
         FROM unnest($1::text[]) WITH ORDINALITY AS wanted(customer, n)
         ORDER BY wanted.n",
    )
    .bind(customers)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(customer, subscriptions, benefits, grants)| Row {
            customer,
            subscriptions: subscriptions.0,
            benefits: benefits.0,
            grants: grants.0,
        })
        .collect())
}
