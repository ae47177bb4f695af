//! `sync_cursors`: when each resource was last reconciled, so incremental syncs start there.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// When `resource` was last reconciled successfully (the start of that sync).
pub(crate) async fn synced_at(
    conn: &mut PgConnection,
    resource: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT synced_at FROM sync_cursors WHERE resource = $1")
        .bind(resource)
        .fetch_optional(conn)
        .await
}

/// Records a successful sync of `resource` that started at `started`; never moves backwards.
pub(crate) async fn advance(
    conn: &mut PgConnection,
    resource: &str,
    started: DateTime<Utc>,
    full: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sync_cursors (resource, synced_at, full_at)
         VALUES ($1, $2, CASE WHEN $3 THEN $2 END)
         ON CONFLICT (resource) DO UPDATE SET
             synced_at = GREATEST(sync_cursors.synced_at, excluded.synced_at),
             full_at = GREATEST(sync_cursors.full_at, excluded.full_at)",
    )
    .bind(resource)
    .bind(started)
    .bind(full)
    .execute(conn)
    .await?;
    Ok(())
}
