//! `idempotency_keys`: one row per (actor, `Idempotency-Key`) of a mutating call; see
//! the idempotency module for how they are used.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

/// A stored key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub(crate) request_sha256: String,
    pub(crate) status: String,
    pub(crate) response_status: Option<i16>,
    pub(crate) response_body: Option<Value>,
}

/// Forgets the key when it expired, or when its call was left in progress before `abandoned`
/// (a process that died mid-call).
pub(crate) async fn forget_stale(
    conn: &mut PgConnection,
    actor: &str,
    key: &str,
    now: DateTime<Utc>,
    abandoned: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM idempotency_keys
         WHERE actor = $1 AND key = $2
           AND (expires_at <= $3 OR (status = 'in_progress' AND created_at <= $4))",
    )
    .bind(actor)
    .bind(key)
    .bind(now)
    .bind(abandoned)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims the key for a call in progress; `false` when it is already stored.
pub(crate) async fn claim(
    conn: &mut PgConnection,
    actor: &str,
    key: &str,
    request_sha256: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (actor, key, request_sha256, status, created_at, expires_at)
         VALUES ($1, $2, $3, 'in_progress', $4, $5)
         ON CONFLICT (actor, key) DO NOTHING",
    )
    .bind(actor)
    .bind(key)
    .bind(request_sha256)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

pub(crate) async fn get(
    conn: &mut PgConnection,
    actor: &str,
    key: &str,
) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT request_sha256, status, response_status, response_body
         FROM idempotency_keys WHERE actor = $1 AND key = $2",
    )
    .bind(actor)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// Stores the answer of the call that claimed the key.
pub(crate) async fn complete(
    conn: &mut PgConnection,
    actor: &str,
    key: &str,
    status: u16,
    body: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_keys
         SET status = 'completed', response_status = $3, response_body = $4
         WHERE actor = $1 AND key = $2",
    )
    .bind(actor)
    .bind(key)
    .bind(i16::try_from(status).unwrap_or(i16::MAX))
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
}

/// Releases a key whose call did not succeed, so that a retry runs again.
pub(crate) async fn release(
    conn: &mut PgConnection,
    actor: &str,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2 AND status = 'in_progress'",
    )
    .bind(actor)
    .bind(key)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes every key that expired before `now`; returns how many.
pub(crate) async fn delete_expired(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
