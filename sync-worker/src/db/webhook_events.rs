//! `webhook_events`: every Polar delivery, stored once by `webhook-id`, with its status.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Where a stored delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Stored, waiting for the applier.
    Pending,
    /// Applied to the database.
    Applied,
    /// Applied, but everything it carries was already stored in this or a newer version.
    Stale,
    /// A type tollgate does not apply; kept for the record.
    Ignored,
    /// Its apply failed; it waits for a retry.
    Failed,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Applied => "applied",
            Self::Stale => "stale",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
        }
    }
}

/// A stored delivery, as listed by `tollgate webhooks list`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Row {
    pub(crate) webhook_id: String,
    pub(crate) event_type: String,
    pub(crate) status: String,
    pub(crate) attempts: i32,
    pub(crate) last_error: Option<String>,
    pub(crate) received_at: DateTime<Utc>,
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
}

/// A delivery to store.
#[derive(Debug, Clone)]
pub(crate) struct NewDelivery {
    pub(crate) webhook_id: String,
    pub(crate) event_type: String,
    pub(crate) event_timestamp: Option<DateTime<Utc>>,
    /// The body exactly as received (JSON).
    pub(crate) payload: String,
    /// `Pending` (to be applied) or `Ignored` (a type tollgate does not apply).
    pub(crate) status: Status,
    /// The applier's lane for a pending delivery.
    pub(crate) lane: Option<i16>,
}

/// Stores each delivery unless one with its `webhook_id` exists, in one statement (so on a
/// pool it commits on its own), ids in the order given. Returns, for each delivery in order,
/// its new row's id, or `None` for a duplicate — of a stored delivery or of an earlier one in
/// `deliveries`. A concurrent insert of the same id waits for the first to commit or roll back
/// (unique index), so exactly one of them keeps a row.
pub(crate) async fn insert(
    conn: impl sqlx::PgExecutor<'_>,
    deliveries: &[NewDelivery],
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    let webhook_ids: Vec<&str> = deliveries.iter().map(|d| d.webhook_id.as_str()).collect();
    let event_types: Vec<&str> = deliveries.iter().map(|d| d.event_type.as_str()).collect();
    let timestamps: Vec<Option<DateTime<Utc>>> =
        deliveries.iter().map(|d| d.event_timestamp).collect();
    let payloads: Vec<&str> = deliveries.iter().map(|d| d.payload.as_str()).collect();
    let statuses: Vec<&str> = deliveries.iter().map(|d| d.status.as_str()).collect();
    let lanes: Vec<Option<i16>> = deliveries.iter().map(|d| d.lane).collect();
    let stored: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO webhook_events (webhook_id, event_type, event_timestamp, payload, status,
                                     lane, applied_at)
         SELECT webhook_id, event_type, event_timestamp, payload, status, lane,
                CASE WHEN status = 'ignored' THEN now() END
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],
                     $6::smallint[])
              WITH ORDINALITY AS d(webhook_id, event_type, event_timestamp, payload, status, lane, n)
         ORDER BY n
         ON CONFLICT (webhook_id) DO NOTHING
         RETURNING id, webhook_id",
    )
    .bind(&webhook_ids)
    .bind(&event_types)
    .bind(&timestamps)
    .bind(&payloads)
    .bind(&statuses)
    .bind(&lanes)
    .fetch_all(conn)
    .await?;
    let mut ids: std::collections::HashMap<String, i64> = stored
        .into_iter()
        .map(|(id, webhook_id)| (webhook_id, id))
        .collect();
    Ok(deliveries
        .iter()
        .map(|d| ids.remove(&d.webhook_id))
        .collect())
}

/// Which pending deliveries to claim.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backlog {
    /// Those of one lane.
    Lane(i16),
    /// Those of any lane pending for longer than this.
    OlderThan(std::time::Duration),
}

/// Claims up to `limit` of the oldest deliveries of `backlog`, for the rest of the
/// transaction; rows another transaction holds are skipped.
pub(crate) async fn claim_pending(
    conn: &mut PgConnection,
    backlog: Backlog,
    limit: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    // The ids first, then the payloads of those alone: a payload is read only when claimed.
    let query = match backlog {
        Backlog::Lane(lane) => sqlx::query_as(
            "WITH claimed AS (
                 SELECT id FROM webhook_events
                 WHERE status = 'pending' AND lane = $2
                 ORDER BY lane, id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED)
             SELECT w.id, w.payload FROM webhook_events w JOIN claimed USING (id)
             ORDER BY w.id",
        )
        .bind(limit)
        .bind(lane),
        Backlog::OlderThan(age) => sqlx::query_as(
            "WITH claimed AS (
                 SELECT id FROM webhook_events
                 WHERE status = 'pending' AND received_at < now() - make_interval(secs => $2)
                 ORDER BY id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED)
             SELECT w.id, w.payload FROM webhook_events w JOIN claimed USING (id)
             ORDER BY w.id",
        )
        .bind(limit)
        .bind(age.as_secs_f64()),
    };
    query.fetch_all(conn).await
}

/// Claims those of the deliveries `ids` that are still pending and that no other transaction
/// holds, for the rest of the transaction; returns their ids.
pub(crate) async fn claim_pending_ids(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM webhook_events
         WHERE id = ANY($1) AND status = 'pending'
         ORDER BY id
         FOR UPDATE SKIP LOCKED",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Claims the delivery `id` if it is still pending and no other transaction holds it.
pub(crate) async fn claim_pending_by_id(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT payload FROM webhook_events
         WHERE id = $1 AND status = 'pending'
         FOR UPDATE SKIP LOCKED",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(payload,)| payload))
}

/// Whether any delivery waits to be applied.
pub(crate) async fn any_pending(pool: &sqlx::PgPool) -> Result<bool, sqlx::Error> {
    let (pending,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM webhook_events WHERE status = 'pending')")
            .fetch_one(pool)
            .await?;
    Ok(pending)
}

/// Records successful applies of many deliveries at once (`Applied`/`Stale`/`Ignored`).
pub(crate) async fn mark_done_many(
    conn: &mut PgConnection,
    done: &[(i64, Status)],
) -> Result<(), sqlx::Error> {
    let (ids, statuses): (Vec<i64>, Vec<&str>) = done
        .iter()
        .map(|(id, status)| (*id, status.as_str()))
        .unzip();
    sqlx::query(
        "UPDATE webhook_events AS w
         SET status = d.status, attempts = w.attempts + 1, last_error = NULL,
             next_attempt_at = NULL, applied_at = now()
         FROM unnest($1::bigint[], $2::text[]) AS d(id, status)
         WHERE w.id = d.id",
    )
    .bind(&ids)
    .bind(&statuses)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records an apply that succeeded (`Applied`/`Stale`/`Ignored`).
pub(crate) async fn mark_done(
    conn: &mut PgConnection,
    id: i64,
    status: Status,
) -> Result<(), sqlx::Error> {
    mark_done_many(conn, &[(id, status)]).await
}

/// Records a failed apply and schedules the next attempt: 5 s after the first failure,
/// doubling each time, at most an hour apart. Failed deliveries are never dropped.
pub(crate) async fn mark_failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_events
         SET status = 'failed', attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + retry_delay(attempts, interval '5 seconds', interval '1 hour')
         WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims the oldest failed delivery that is due, locking it so that other replicas skip it.
pub(crate) async fn claim_due(
    conn: &mut PgConnection,
) -> Result<Option<(i64, String)>, sqlx::Error> {
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
pub(crate) async fn lock_by_webhook_id(
    conn: &mut PgConnection,
    webhook_id: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, payload FROM webhook_events WHERE webhook_id = $1 FOR UPDATE")
        .bind(webhook_id)
        .fetch_optional(conn)
        .await
}

/// The newest deliveries, or only the failed ones.
pub(crate) async fn list(
    conn: &mut PgConnection,
    failed_only: bool,
    limit: i64,
) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as(
        "SELECT webhook_id, event_type, status, attempts, last_error, received_at, next_attempt_at
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
pub(crate) async fn failed_webhook_ids(
    conn: &mut PgConnection,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT webhook_id FROM webhook_events WHERE status = 'failed' ORDER BY id")
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// How many deliveries failed and wait for a retry.
pub(crate) async fn count_failed(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM webhook_events WHERE status = 'failed'")
        .fetch_one(conn)
        .await
}

/// When the oldest pending delivery arrived, and how many are pending.
pub(crate) async fn pending_backlog(
    conn: &mut PgConnection,
) -> Result<(Option<DateTime<Utc>>, i64), sqlx::Error> {
    sqlx::query_as("SELECT min(received_at), count(*) FROM webhook_events WHERE status = 'pending'")
        .fetch_one(conn)
        .await
}

/// Forgets deliveries that were applied, stale or ignored and arrived before `before`;
/// returns how many.
pub(crate) async fn delete_done_before(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM webhook_events
         WHERE status IN ('applied', 'stale', 'ignored') AND received_at < $1",
    )
    .bind(before)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
