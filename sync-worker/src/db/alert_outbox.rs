//! `alert_outbox`: health alerts' openings and resolutions waiting to be posted, in id order.

use serde_json::Value;
use sqlx::PgConnection;

/// An unsent row, claimed for the rest of the transaction.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Unsent {
    pub(crate) id: i64,
    pub(crate) transition: String,
    pub(crate) payload: Value,
    /// Whether its next attempt is due by the database's clock.
    pub(crate) due: bool,
}

/// Queues the `transition` (`opened`, `resolved`) of alert `alert_id`; a transition already
/// queued is not queued again.
pub(crate) async fn enqueue(
    conn: &mut PgConnection,
    alert_id: i64,
    transition: &str,
    payload: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO alert_outbox (alert_id, transition, payload) VALUES ($1, $2, $3)
         ON CONFLICT (alert_id, transition) DO NOTHING",
    )
    .bind(alert_id)
    .bind(transition)
    .bind(payload)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the alert sender's lock for the rest of the transaction, unless another replica holds
/// it: one sender at a time keeps alerts in order.
pub(crate) async fn try_lock_sender(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended('tollgate.alerts', 0))")
        .fetch_one(conn)
        .await
}

/// The oldest `limit` unsent rows in id order, locked for the rest of the transaction.
pub(crate) async fn claim_unsent(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<Unsent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, transition, payload, next_attempt_at <= now() AS due FROM alert_outbox
         WHERE sent_at IS NULL
         ORDER BY id
         LIMIT $1
         FOR UPDATE",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Marks the row `id` sent.
pub(crate) async fn mark_sent(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE alert_outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL
         WHERE id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt on the row `id` and schedules the next: 1 s after the first
/// failure, doubling each time, at most 5 minutes apart.
pub(crate) async fn mark_failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE alert_outbox SET attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + retry_delay(attempts, interval '1 second', interval '5 minutes')
         WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many rows wait to be sent.
pub(crate) async fn depth(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM alert_outbox WHERE sent_at IS NULL")
        .fetch_one(conn)
        .await
}
