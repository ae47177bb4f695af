//! `clerk_events`: Clerk's webhook deliveries, once per `svix-id`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Records the delivery `svix_id`; `false` when it was already recorded (a duplicate).
pub(crate) async fn insert(
    conn: &mut PgConnection,
    svix_id: &str,
    event_type: &str,
    user_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO clerk_events (svix_id, event_type, user_id, received_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (svix_id) DO NOTHING",
    )
    .bind(svix_id)
    .bind(event_type)
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Forgets a delivery whose handling failed, so that Clerk's retry is handled again.
pub(crate) async fn delete(conn: &mut PgConnection, svix_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM clerk_events WHERE svix_id = $1")
        .bind(svix_id)
        .execute(conn)
        .await?;
    Ok(())
}
