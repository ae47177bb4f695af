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

/// Opens the alert `kind`, or bumps it when it is already open.
pub(crate) async fn raise(
    conn: &mut PgConnection,
    kind: &str,
    message: &str,
    details: &Value,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO alerts (kind, message, details, raised_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (kind) WHERE resolved_at IS NULL DO UPDATE SET
             message = excluded.message, details = excluded.details,
             last_seen_at = excluded.last_seen_at,
             occurrences = alerts.occurrences + 1",
    )
    .bind(kind)
    .bind(message)
    .bind(details)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Resolves the open alert `kind`, if there is one.
pub(crate) async fn resolve(
    conn: &mut PgConnection,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE alerts SET resolved_at = $2 WHERE kind = $1 AND resolved_at IS NULL")
        .bind(kind)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
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
