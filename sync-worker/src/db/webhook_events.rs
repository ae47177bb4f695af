//! `webhook_events`: every Polar delivery, stored once by `webhook-id`, with its apply state.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

/// What became of a stored delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Applied to the database.
    Applied,
    /// A type tollgate does not apply; kept for the record.
    Ignored,
    /// Its apply failed; it waits for a retry.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
        }
    }
}

/// A stored delivery, as listed by `tollgate webhooks list`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub webhook_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Stores a delivery (`payload`: the body exactly as received, JSON) unless one with this
/// `webhook_id` exists, already marked with the
/// outcome of its first apply (`status`, and `error` for a failure, retried after 5 s). Returns
/// the new row's id, or `None` for a duplicate. A concurrent insert of the same id waits for
/// the first to commit or roll back (unique index), so exactly one of them keeps a row.
pub async fn insert(
    conn: &mut PgConnection,
    webhook_id: &str,
    event_type: &str,
    event_timestamp: Option<DateTime<Utc>>,
    payload: &str,
    status: Status,
    error: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO webhook_events (webhook_id, event_type, event_timestamp, payload, status,
                                     attempts, last_error, next_attempt_at, applied_at)
         VALUES ($1, $2, $3, $4::jsonb, $5, 1, $6,
                 CASE WHEN $5 = 'failed' THEN now() + interval '5 seconds' END,
                 CASE WHEN $5 <> 'failed' THEN now() END)
         ON CONFLICT (webhook_id) DO NOTHING
         RETURNING id",
    )
    .bind(webhook_id)
    .bind(event_type)
    .bind(event_timestamp)
    .bind(payload)
    .bind(status.as_str())
    .bind(error)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Records an apply that succeeded (`Applied`/`Ignored`).
pub async fn mark_done(
    conn: &mut PgConnection,
    id: i64,
    status: Status,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_events
         SET status = $2, attempts = attempts + 1, last_error = NULL,
             next_attempt_at = NULL, applied_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed apply and schedules the next attempt: 5 s after the first failure,
/// doubling each time, at most an hour apart. Failed deliveries are never dropped.
pub async fn mark_failed(conn: &mut PgConnection, id: i64, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_events
         SET status = 'failed', attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + LEAST(interval '1 hour',
                                             interval '5 seconds' * power(2, LEAST(attempts, 12)))
         WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims the oldest failed delivery that is due, locking it so that other replicas skip it.
pub async fn claim_due(conn: &mut PgConnection) -> Result<Option<(i64, Value)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, payload FROM webhook_events
         WHERE status = 'failed' AND next_attempt_at <= now()
         ORDER BY next_attempt_at, id
         LIMIT 1
         FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(conn)
    .await
}

/// Locks the delivery `webhook_id` for a replay by hand.
pub async fn lock_by_webhook_id(
    conn: &mut PgConnection,
    webhook_id: &str,
) -> Result<Option<(i64, Value)>, sqlx::Error> {
    sqlx::query_as("SELECT id, payload FROM webhook_events WHERE webhook_id = $1 FOR UPDATE")
        .bind(webhook_id)
        .fetch_optional(conn)
        .await
}

/// The newest deliveries, or only the failed ones.
pub async fn list(
    conn: &mut PgConnection,
    failed_only: bool,
    limit: i64,
) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, webhook_id, event_type, status, attempts, last_error, received_at, next_attempt_at
         FROM webhook_events
         WHERE NOT $1 OR status = 'failed'
         ORDER BY id DESC
         LIMIT $2",
    )
    .bind(failed_only)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The `webhook-id`s of every failed delivery, oldest first.
pub async fn failed_webhook_ids(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT webhook_id FROM webhook_events WHERE status = 'failed' ORDER BY id")
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
