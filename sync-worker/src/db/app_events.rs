//! `app_events`: events for the app, each stored once by its derived id, then delivered.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// An event to store: its id, type, customer and the exact body that will be signed and sent.
#[derive(Debug)]
pub(crate) struct NewRow<'a> {
    pub(crate) event_id: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) customer: &'a str,
    pub(crate) body: String,
}

/// A due event, claimed for delivery.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Due {
    pub(crate) id: i64,
    pub(crate) event_id: String,
    pub(crate) kind: String,
    pub(crate) body: String,
}

/// An event as `tollgate events list` shows it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Listed {
    pub(crate) event_id: String,
    pub(crate) kind: String,
    pub(crate) customer: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) attempts: i32,
    pub(crate) delivered_at: Option<DateTime<Utc>>,
    pub(crate) next_attempt_at: DateTime<Utc>,
    pub(crate) last_error: Option<String>,
}

/// Stores the events whose ids are new; returns how many were.
pub(crate) async fn insert_new(
    conn: &mut PgConnection,
    rows: &[NewRow<'_>],
) -> Result<u64, sqlx::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.event_id).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind).collect();
    let customers: Vec<&str> = rows.iter().map(|r| r.customer).collect();
    let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
    let done = sqlx::query(
        "INSERT INTO app_events (event_id, type, customer, body)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&kinds)
    .bind(&customers)
    .bind(&bodies)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Claims up to `limit` due events in id order for the rest of the transaction; events another
/// replica holds are skipped.
pub(crate) async fn claim_due(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, event_id, type AS kind, body FROM app_events
         WHERE delivered_at IS NULL AND next_attempt_at <= now()
         ORDER BY next_attempt_at, id
         LIMIT $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Marks the event `id` delivered.
pub(crate) async fn mark_delivered(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE app_events SET delivered_at = now(), attempts = attempts + 1, last_error = NULL
         WHERE id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt on the event `id` and schedules the next: 1 s after the first
/// failure, doubling each time, at most an hour apart.
pub(crate) async fn mark_failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE app_events SET attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + retry_delay(attempts, interval '1 second', interval '1 hour')
         WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many events wait to be delivered.
pub(crate) async fn depth(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM app_events WHERE delivered_at IS NULL")
        .fetch_one(conn)
        .await
}

/// The newest `limit` events: all, only `delivered` ones or only `pending` ones.
pub(crate) async fn list(
    conn: &mut PgConnection,
    delivered: Option<bool>,
    limit: i64,
) -> Result<Vec<Listed>, sqlx::Error> {
    sqlx::query_as(
        "SELECT event_id, type AS kind, customer, created_at, attempts, delivered_at,
                next_attempt_at, last_error
         FROM app_events
         WHERE $1::boolean IS NULL OR (delivered_at IS NOT NULL) = $1
         ORDER BY id DESC
         LIMIT $2",
    )
    .bind(delivered)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Forgets events created before `before`, delivered or not; returns how many.
pub(crate) async fn delete_before(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM app_events WHERE created_at < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
