//! `api_keys`: the edge worker's API keys, stored as their SHA-256 only.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

/// A stored key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub(crate) id: i64,
    pub(crate) customer: String,
    pub(crate) name: String,
    #[serde(skip)]
    pub(crate) key_sha256: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) created_by: String,
    pub(crate) revoked_at: Option<DateTime<Utc>>,
    pub(crate) revoked_by: Option<String>,
}

const COLUMNS: &str =
    "id, customer, name, key_sha256, created_at, created_by, revoked_at, revoked_by";

pub(crate) async fn insert(
    conn: &mut PgConnection,
    customer: &str,
    name: &str,
    key_sha256: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<KeyRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO api_keys (customer, name, key_sha256, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING {COLUMNS}"
    )))
    .bind(customer)
    .bind(name)
    .bind(key_sha256)
    .bind(now)
    .bind(by)
    .fetch_one(conn)
    .await
}

/// Revokes the live key `id`; `None` when there is none.
pub(crate) async fn revoke(
    conn: &mut PgConnection,
    id: i64,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE api_keys SET revoked_at = $2, revoked_by = $3
         WHERE id = $1 AND revoked_at IS NULL
         RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(now)
    .bind(by)
    .fetch_optional(conn)
    .await
}

/// The keys of `customer` (everyone's when `None`), newest first.
pub(crate) async fn list(
    conn: &mut PgConnection,
    customer: Option<&str>,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM api_keys WHERE $1::text IS NULL OR customer = $1 ORDER BY id DESC"
    )))
    .bind(customer)
    .fetch_all(conn)
    .await
}
