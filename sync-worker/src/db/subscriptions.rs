//! `subscriptions`: Polar subscriptions, the engine's main input.

use super::{customers, products};
use crate::polar::{Customer, Product, Subscription};
use serde_json::value::RawValue;
use sqlx::{PgConnection, Postgres, QueryBuilder};

/// Pushes the upsert of one subscription onto `query` (stored unless a newer or equal version
/// is); its `RETURNING id` yields a row when the stored subscription changed.
fn push_upsert<'a>(
    query: &mut QueryBuilder<Postgres>,
    subscription: &'a Subscription,
    raw: &'a RawValue,
) {
    let s = subscription;
    query.push(
        "INSERT INTO subscriptions (id, customer_id, product_id, status, version_at, raw)
         SELECT v.* FROM (SELECT ",
    );
    query
        .push_bind(s.version.id.as_str())
        .push("::text AS id, ");
    query
        .push_bind(s.customer_id.as_str())
        .push("::text AS customer_id, ");
    query
        .push_bind(s.product_id.as_str())
        .push("::text AS product_id, ");
    query
        .push_bind(s.status.as_str())
        .push("::text AS status, ");
    query
        .push_bind(s.version.version_at())
        .push("::timestamptz AS version_at, ");
    query.push_bind(raw).push("::jsonb AS raw) v");
    query.push(
        " WHERE NOT EXISTS (
             SELECT 1 FROM subscriptions s WHERE s.id = v.id AND s.version_at >= v.version_at)
         ON CONFLICT (id) DO UPDATE SET
             customer_id = excluded.customer_id, product_id = excluded.product_id,
             status = excluded.status, version_at = excluded.version_at,
             raw = excluded.raw, updated_at = now()
         WHERE excluded.version_at > subscriptions.version_at
         RETURNING id",
    );
}

/// What storing a subscription event changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    pub(crate) customer: bool,
    pub(crate) product: bool,
    pub(crate) subscription: bool,
}

/// Stores a subscription with the customer and product it embeds (each only if newer than
/// what is stored) in one statement, one round trip.
pub(crate) async fn upsert_with_embedded(
    conn: &mut PgConnection,
    subscription: &Subscription,
    raw: &RawValue,
    customer: Option<(&Customer, &RawValue)>,
    product: Option<(&Product, &RawValue)>,
) -> Result<Changed, sqlx::Error> {
    let mut query = QueryBuilder::new("WITH customer AS (");
    customers::push_upsert(&mut query, customer);
    query.push("), product AS (");
    products::push_upsert(&mut query, product);
    query.push("), subscription AS (");
    push_upsert(&mut query, subscription, raw);
    query.push(
        ") SELECT EXISTS (SELECT 1 FROM customer), EXISTS (SELECT 1 FROM product),
                  EXISTS (SELECT 1 FROM subscription)",
    );
    let (customer, product, subscription): (bool, bool, bool) =
        query.build_query_as().fetch_one(conn).await?;
    Ok(Changed {
        customer,
        product,
        subscription,
    })
}

/// Ids of the stored subscriptions in one of `statuses` whose customer is live, in order.
pub(crate) async fn ids_in(
    conn: &mut PgConnection,
    statuses: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT s.id FROM subscriptions s
         LEFT JOIN customers c ON c.id = s.customer_id
         WHERE s.status = ANY($1) AND c.deleted_at IS NULL
         ORDER BY s.id",
    )
    .bind(statuses)
    .fetch_all(conn)
    .await
}

/// The stored subscriptions (Polar's JSON) of the live customers with `external_id`.
pub(crate) async fn raw_of_customer(
    conn: &mut PgConnection,
    external_id: &str,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT s.raw
         FROM subscriptions s JOIN customers c ON c.id = s.customer_id
         WHERE c.external_id = $1 AND c.deleted_at IS NULL
         ORDER BY s.id",
    )
    .bind(external_id)
    .fetch_all(conn)
    .await
}

/// A subscription whose payment failed (`past_due` or `unpaid`), with its customer and the
/// last order it billed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct FailedPayment {
    pub(crate) customer: Option<String>,
    pub(crate) polar_customer_id: String,
    pub(crate) email: Option<String>,
    /// Polar's subscription with the newest stored version of its product.
    pub(crate) subscription: sqlx::types::Json<tollgate_gate::polar::Subscription>,
    pub(crate) status: String,
    pub(crate) last_order_id: Option<String>,
    pub(crate) amount_due: Option<i64>,
    pub(crate) currency: Option<String>,
}

/// Every `past_due` or `unpaid` subscription of a live customer, by customer.
pub(crate) async fn failed_payments(
    conn: &mut PgConnection,
) -> Result<Vec<FailedPayment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.external_id AS customer, c.id AS polar_customer_id, c.email,
                CASE WHEN p.raw IS NULL THEN s.raw
                     ELSE s.raw || jsonb_build_object('product', p.raw) END AS subscription,
                s.status,
                o.id AS last_order_id, o.total_amount - o.refunded_amount AS amount_due,
                o.currency
         FROM subscriptions s
         JOIN customers c ON c.id = s.customer_id AND c.deleted_at IS NULL
         LEFT JOIN products p ON p.id = s.product_id
         LEFT JOIN LATERAL (
             SELECT id, total_amount, refunded_amount, currency FROM orders
             WHERE subscription_id = s.id
             ORDER BY (raw ->> 'created_at')::timestamptz DESC, id DESC LIMIT 1
         ) o ON true
         WHERE s.status IN ('past_due', 'unpaid')
         ORDER BY c.external_id, s.id",
    )
    .fetch_all(conn)
    .await
}

/// The columns of the subscriptions export, in order.
pub(crate) const EXPORT_COLUMNS: &[&str] = &[
    "id",
    "customer",
    "polar_customer_id",
    "product_id",
    "product_name",
    "status",
    "amount",
    "currency",
    "recurring_interval",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "created_at",
];

/// Every subscription created in `[from, to)`, oldest first, as text columns.
pub(crate) fn export(
    pool: &sqlx::PgPool,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> super::ExportRows<'_> {
    sqlx::query(
        "SELECT s.id, c.external_id, s.customer_id, s.product_id, p.name, s.status,
                s.raw ->> 'amount', s.raw ->> 'currency', s.raw ->> 'recurring_interval',
                s.raw ->> 'current_period_start', s.raw ->> 'current_period_end',
                s.raw ->> 'cancel_at_period_end', s.raw ->> 'created_at'
         FROM subscriptions s
         LEFT JOIN customers c ON c.id = s.customer_id
         LEFT JOIN products p ON p.id = s.product_id
         WHERE ($1::timestamptz IS NULL OR (s.raw ->> 'created_at')::timestamptz >= $1)
           AND ($2::timestamptz IS NULL OR (s.raw ->> 'created_at')::timestamptz < $2)
         ORDER BY (s.raw ->> 'created_at')::timestamptz, s.id",
    )
    .bind(from)
    .bind(to)
    .fetch(pool)
}

/// The customers (external ids) with an active or trialing subscription that cancels at a
/// period end in `(from, to]`.
pub(crate) async fn ending_between(
    conn: &mut PgConnection,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT c.external_id
         FROM subscriptions s
         JOIN customers c ON c.id = s.customer_id AND c.deleted_at IS NULL
         WHERE c.external_id IS NOT NULL
           AND s.status IN ('active', 'trialing')
           AND (s.raw ->> 'cancel_at_period_end')::boolean
           AND (s.raw ->> 'current_period_end')::timestamptz > $1
           AND (s.raw ->> 'current_period_end')::timestamptz <= $2
         ORDER BY c.external_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}
