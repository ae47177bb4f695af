//! `api_tokens`: the `/v1` API's tokens besides the bootstrap one, stored as SHA-256 digests.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// A token as listed: never its secret, which is not stored.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct TokenRow {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) created_by: String,
    pub(crate) revoked_at: Option<DateTime<Utc>>,
}

/// Stores a new live token; `None` when a live token already has this name.
pub(crate) async fn insert(
    conn: &mut PgConnection,
    name: &str,
    role: &str,
    token_sha256: &str,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<Option<TokenRow>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO api_tokens (name, role, token_sha256, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING
         RETURNING id, name, role, created_at, created_by, revoked_at",
    )
    .bind(name)
    .bind(role)
    .bind(token_sha256)
    .bind(now)
    .bind(created_by)
    .fetch_optional(conn)
    .await
}

/// The name and role of the live token whose digest is `token_sha256`.
pub(crate) async fn live_by_digest(
    conn: &mut PgConnection,
    token_sha256: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, role FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
    )
    .bind(token_sha256)
    .fetch_optional(conn)
    .await
}

/// Every token, live ones first, newest first.
pub(crate) async fn list(conn: &mut PgConnection) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, role, created_at, created_by, revoked_at FROM api_tokens
         ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC",
    )
    .fetch_all(conn)
    .await
}

/// Revokes the live token named `name`; `None` when there is none.
pub(crate) async fn revoke(
    conn: &mut PgConnection,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<TokenRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL
         RETURNING id, name, role, created_at, created_by, revoked_at",
    )
    .bind(name)
    .bind(now)
    .fetch_optional(conn)
    .await
}
