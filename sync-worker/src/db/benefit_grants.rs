//! `benefit_grants`: Polar benefit grants. Held grants of tollgate-tagged benefits raise limits.

use crate::polar::BenefitGrant;
use serde_json::value::RawValue;
use sqlx::PgConnection;

/// Stores `grant` unless a newer or equal version is stored; returns whether it changed.
pub(crate) async fn upsert(
    conn: &mut PgConnection,
    grant: &BenefitGrant,
    raw: &RawValue,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO benefit_grants (id, customer_id, benefit_id, subscription_id, order_id,
                                     is_granted, is_revoked, version_at, raw)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
         WHERE NOT EXISTS (SELECT 1 FROM benefit_grants WHERE id = $1 AND version_at >= $8)
         ON CONFLICT (id) DO UPDATE SET
             customer_id = excluded.customer_id, benefit_id = excluded.benefit_id,
             subscription_id = excluded.subscription_id, order_id = excluded.order_id,
             is_granted = excluded.is_granted, is_revoked = excluded.is_revoked,
             version_at = excluded.version_at, raw = excluded.raw, updated_at = now()
         WHERE excluded.version_at > benefit_grants.version_at
         RETURNING id",
    )
    .bind(&grant.version.id)
    .bind(&grant.customer_id)
    .bind(&grant.benefit_id)
    .bind(&grant.subscription_id)
    .bind(&grant.order_id)
    .bind(grant.is_granted)
    .bind(grant.is_revoked)
    .bind(grant.version.version_at())
    .bind(raw)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}
