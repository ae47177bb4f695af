//! `alerts`: one open alert per failing health check, bumped while the problem lasts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;

/// An open alert.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Alert {
    pub kind: String,
    pub message: String,
    pub raised_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub occurrences: i32,
}

/// An alert that one call opened or resolved.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct Transition {
    pub(crate) id: i64,
    pub(crate) message: String,
    pub(crate) raised_at: DateTime<Utc>,
}

/// Opens the alert `kind`, or bumps it when it is already open. Returns the alert when this
/// call opened it.
pub(crate) async fn raise(
    conn: &mut PgConnection,
    kind: &str,
    message: &str,
    details: &Value,
    now: DateTime<Utc>,
) -> Result<Option<Transition>, sqlx::Error> {
    // `xmax = 0` holds for a row this statement inserted, not for one it updated.
    let (id, raised_at, opened): (i64, DateTime<Utc>, bool) = sqlx::query_as(
        "INSERT INTO alerts (kind, message, details, raised_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (kind) WHERE resolved_at IS NULL DO UPDATE SET
             message = excluded.message, details = excluded.details,
             last_seen_at = excluded.last_seen_at,
             occurrences = alerts.occurrences + 1
         RETURNING id, raised_at, xmax = 0",
    )
    .bind(kind)
    .bind(message)
    .bind(details)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(opened.then(|| Transition {
        id,
        message: message.to_owned(),
        raised_at,
    }))
}

/// Resolves the open alert `kind`, if there is one, and returns it.
pub(crate) async fn resolve(
    conn: &mut PgConnection,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<Option<Transition>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE alerts SET resolved_at = $2 WHERE kind = $1 AND resolved_at IS NULL
         RETURNING id, message, raised_at",
    )
    .bind(kind)
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// The open alerts, oldest first.
pub(crate) async fn open(conn: &mut PgConnection) -> Result<Vec<Alert>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, message, raised_at, last_seen_at, occurrences
         FROM alerts WHERE resolved_at IS NULL ORDER BY raised_at, id",
    )
    .fetch_all(conn)
    .await
}

/// Forgets alerts resolved before `before`; returns how many.
pub(crate) async fn delete_resolved_before(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM alerts WHERE resolved_at < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
