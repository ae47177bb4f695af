//! `customers`: Polar customers, keyed by Polar id, found by external id.

use crate::polar::Customer;
use serde_json::value::RawValue;
use sqlx::PgConnection;

/// Inserts or updates one customer ($1 id, $2 external_id, $3 email, $4 deleted_at,
/// $5 version_at, $6 raw; nothing when $1 is null). See [`upsert`].
pub(crate) const UPSERT: &str =
    "INSERT INTO customers (id, external_id, email, deleted_at, version_at, raw)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE $1::text IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM customers
             WHERE id = $1 AND version_at >= $5
               AND (deleted_at IS NOT NULL OR $4::timestamptz IS NULL)
               AND (external_id IS NOT NULL OR $2::text IS NULL))
         ON CONFLICT (id) DO UPDATE SET
             external_id = COALESCE(excluded.external_id, customers.external_id),
             email = CASE WHEN excluded.version_at > customers.version_at
                          THEN excluded.email ELSE customers.email END,
             deleted_at = COALESCE(customers.deleted_at, excluded.deleted_at),
             version_at = GREATEST(customers.version_at, excluded.version_at),
             raw = CASE WHEN excluded.version_at > customers.version_at
                        THEN excluded.raw ELSE customers.raw END,
             updated_at = now()
         WHERE excluded.version_at > customers.version_at
            OR (customers.deleted_at IS NULL AND excluded.deleted_at IS NOT NULL)
            OR (customers.external_id IS NULL AND excluded.external_id IS NOT NULL)
         RETURNING id";

/// Stores `customer` unless a newer version is stored. A deletion is never undone by an older
/// or equally old version, since Polar may not bump `modified_at` when it soft-deletes.
/// Returns whether the row changed.
pub async fn upsert(
    conn: &mut PgConnection,
    customer: &Customer,
    raw: &RawValue,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(UPSERT)
        .bind(&customer.version.id)
        .bind(&customer.external_id)
        .bind(&customer.email)
        .bind(customer.deleted_at)
        .bind(customer.version.version_at())
        .bind(raw)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// The external ids of the Polar customers `ids` that have one.
pub async fn external_ids(
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT external_id FROM customers
         WHERE id = ANY($1) AND external_id IS NOT NULL",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The stored, not deleted customer whose external id is `external_id`: Polar id and e-mail.
pub async fn live_by_external_id(
    conn: &mut PgConnection,
    external_id: &str,
) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, email FROM customers
         WHERE external_id = $1 AND deleted_at IS NULL
         ORDER BY version_at DESC LIMIT 1",
    )
    .bind(external_id)
    .fetch_optional(conn)
    .await
}
