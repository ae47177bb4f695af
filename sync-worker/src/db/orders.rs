//! `orders`: billing history (paid, refunded, renewals). Not an engine input.

use crate::polar::Order;
use serde_json::value::RawValue;
use sqlx::PgConnection;

/// Stores `order` unless a newer or equal version is stored; returns whether it changed.
pub async fn upsert(
    conn: &mut PgConnection,
    order: &Order,
    raw: &RawValue,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO orders (id, customer_id, subscription_id, product_id, status, billing_reason,
                             currency, total_amount, refunded_amount, version_at, raw)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
         WHERE NOT EXISTS (SELECT 1 FROM orders WHERE id = $1 AND version_at >= $10)
         ON CONFLICT (id) DO UPDATE SET
             customer_id = excluded.customer_id, subscription_id = excluded.subscription_id,
             product_id = excluded.product_id, status = excluded.status,
             billing_reason = excluded.billing_reason, currency = excluded.currency,
             total_amount = excluded.total_amount, refunded_amount = excluded.refunded_amount,
             version_at = excluded.version_at, raw = excluded.raw, updated_at = now()
         WHERE excluded.version_at > orders.version_at
         RETURNING id",
    )
    .bind(&order.version.id)
    .bind(&order.customer_id)
    .bind(&order.subscription_id)
    .bind(&order.product_id)
    .bind(&order.status)
    .bind(&order.billing_reason)
    .bind(&order.currency)
    .bind(order.total_amount)
    .bind(order.refunded_amount)
    .bind(order.version.version_at())
    .bind(raw)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}
