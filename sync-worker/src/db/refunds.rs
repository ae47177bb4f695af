//! `refunds`: refunds of orders. Not an engine input.

use crate::polar::Refund;
use serde_json::value::RawValue;
use sqlx::PgConnection;

/// Stores `refund` unless a newer or equal version is stored; returns whether it changed.
pub(crate) async fn upsert(
    conn: &mut PgConnection,
    refund: &Refund,
    raw: &RawValue,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO refunds (id, order_id, customer_id, subscription_id, status, currency,
                              amount, version_at, raw)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
         WHERE NOT EXISTS (SELECT 1 FROM refunds WHERE id = $1 AND version_at >= $8)
         ON CONFLICT (id) DO UPDATE SET
             order_id = excluded.order_id, customer_id = excluded.customer_id,
             subscription_id = excluded.subscription_id, status = excluded.status,
             currency = excluded.currency, amount = excluded.amount,
             version_at = excluded.version_at, raw = excluded.raw, updated_at = now()
         WHERE excluded.version_at > refunds.version_at
         RETURNING id",
    )
    .bind(&refund.version.id)
    .bind(&refund.order_id)
    .bind(&refund.customer_id)
    .bind(&refund.subscription_id)
    .bind(&refund.status)
    .bind(&refund.currency)
    .bind(refund.amount)
    .bind(refund.version.version_at())
    .bind(raw)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}
