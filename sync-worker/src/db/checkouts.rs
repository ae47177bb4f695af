//! `checkouts`: Polar checkout sessions. Not an engine input.

use crate::polar::Checkout;
use serde_json::value::RawValue;
use sqlx::PgConnection;

/// Stores `checkout` unless a newer or equal version is stored; returns whether it changed.
pub(crate) async fn upsert(
    conn: &mut PgConnection,
    checkout: &Checkout,
    raw: &RawValue,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO checkouts (id, customer_id, status, version_at, raw)
         SELECT $1, $2, $3, $4, $5
         WHERE NOT EXISTS (SELECT 1 FROM checkouts WHERE id = $1 AND version_at >= $4)
         ON CONFLICT (id) DO UPDATE SET
             customer_id = excluded.customer_id, status = excluded.status,
             version_at = excluded.version_at, raw = excluded.raw, updated_at = now()
         WHERE excluded.version_at > checkouts.version_at
         RETURNING id",
    )
    .bind(&checkout.version.id)
    .bind(&checkout.customer_id)
    .bind(&checkout.status)
    .bind(checkout.version.version_at())
    .bind(raw)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}
