//! `subscriptions`: Polar subscriptions, the engine's main input.

use super::{customers, products, renumbered};
use crate::polar::{Customer, Product, Subscription};
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::PgConnection;
use std::sync::LazyLock;

/// Inserts or updates one row of `subscriptions` ($1 id, $2 customer_id, $3 product_id, $4 status, $5 version_at, $6 raw).
pub(crate) const UPSERT: &str =
    "INSERT INTO subscriptions (id, customer_id, product_id, status, version_at, raw)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE NOT EXISTS (SELECT 1 FROM subscriptions WHERE id = $1 AND version_at >= $5)
         ON CONFLICT (id) DO UPDATE SET
             customer_id = excluded.customer_id, product_id = excluded.product_id,
             status = excluded.status, version_at = excluded.version_at,
             raw = excluded.raw, updated_at = now()
         WHERE excluded.version_at > subscriptions.version_at
         RETURNING id";

/// Stores `subscription` unless a newer or equal version is stored; returns whether it changed.
pub async fn upsert(
    conn: &mut PgConnection,
    subscription: &Subscription,
    raw: &RawValue,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(UPSERT)
        .bind(&subscription.version.id)
        .bind(&subscription.customer_id)
        .bind(&subscription.product_id)
        .bind(&subscription.status)
        .bind(subscription.version.version_at())
        .bind(raw)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// What storing a subscription event changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    pub customer: bool,
    pub product: bool,
    pub subscription: bool,
}

/// The three upserts of a subscription event as one statement (one round trip).
static WITH_EMBEDDED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH customer AS ({}), product AS ({}), subscription AS ({})
         SELECT EXISTS (SELECT 1 FROM customer), EXISTS (SELECT 1 FROM product),
                EXISTS (SELECT 1 FROM subscription)",
        customers::UPSERT,
        renumbered(products::UPSERT, 6),
        renumbered(UPSERT, 11),
    )
});

/// Stores a subscription with the customer and product it embeds (each only if newer than
/// what is stored, like [`upsert`]) in one round trip.
pub async fn upsert_with_embedded(
    conn: &mut PgConnection,
    subscription: &Subscription,
    raw: &RawValue,
    customer: Option<(&Customer, &RawValue)>,
    product: Option<(&Product, &RawValue)>,
) -> Result<Changed, sqlx::Error> {
    let (customer, product, subscription_changed): (bool, bool, bool) =
        sqlx::query_as(sqlx::AssertSqlSafe(WITH_EMBEDDED.as_str()))
            .bind(customer.map(|(c, _)| c.version.id.as_str()))
            .bind(customer.and_then(|(c, _)| c.external_id.as_deref()))
            .bind(customer.and_then(|(c, _)| c.email.as_deref()))
            .bind(customer.and_then(|(c, _)| c.deleted_at))
            .bind(customer.map(|(c, _)| c.version.version_at()))
            .bind(customer.map(|(_, raw)| raw))
            .bind(product.map(|(p, _)| p.version.id.as_str()))
            .bind(product.map(|(p, _)| p.name.as_str()))
            .bind(product.map(|(p, _)| p.is_archived))
            .bind(product.map(|(p, _)| p.version.version_at()))
            .bind(product.map(|(_, raw)| raw))
            .bind(&subscription.version.id)
            .bind(&subscription.customer_id)
            .bind(&subscription.product_id)
            .bind(&subscription.status)
            .bind(subscription.version.version_at())
            .bind(raw)
            .fetch_one(conn)
            .await?;
    Ok(Changed {
        customer,
        product,
        subscription: subscription_changed,
    })
}

/// The subscriptions of the live (not deleted) Polar customers with `external_id`, each with
/// the newest stored version of its product (the copy embedded in the subscription may be
/// older than a later `product.updated`).
pub async fn of_customer(
    conn: &mut PgConnection,
    external_id: &str,
) -> Result<Vec<(Value, Option<Value>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.raw, p.raw
         FROM subscriptions s
         JOIN customers c ON c.id = s.customer_id
         LEFT JOIN products p ON p.id = s.product_id
         WHERE c.external_id = $1 AND c.deleted_at IS NULL
         ORDER BY s.id",
    )
    .bind(external_id)
    .fetch_all(conn)
    .await
}
