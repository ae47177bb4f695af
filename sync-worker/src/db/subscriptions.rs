//! `subscriptions`: Polar subscriptions, the engine's main input.

use crate::polar::Subscription;
use serde_json::Value;
use sqlx::PgConnection;

/// Stores `subscription` unless a newer or equal version is stored; returns whether it changed.
pub async fn upsert(
    conn: &mut PgConnection,
    subscription: &Subscription,
    raw: &Value,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO subscriptions (id, customer_id, product_id, status, version_at, raw)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE NOT EXISTS (SELECT 1 FROM subscriptions WHERE id = $1 AND version_at >= $5)
         ON CONFLICT (id) DO UPDATE SET
             customer_id = excluded.customer_id, product_id = excluded.product_id,
             status = excluded.status, version_at = excluded.version_at,
             raw = excluded.raw, updated_at = now()
         WHERE excluded.version_at > subscriptions.version_at
         RETURNING id",
    )
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
