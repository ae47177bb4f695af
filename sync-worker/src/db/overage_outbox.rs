//! `overage_outbox`: billed units waiting to be sent to Polar's event ingestion, once each.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

/// A row to queue; `external_id` is Polar's idempotency key for it.
#[derive(Debug)]
pub(crate) struct NewRow<'a> {
    pub(crate) external_id: String,
    pub(crate) customer: &'a str,
    pub(crate) feature: &'a str,
    pub(crate) event_id: &'a str,
    pub(crate) units: i64,
    pub(crate) occurred_at: DateTime<Utc>,
    pub(crate) metadata: Value,
}

/// A due row, claimed for sending.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Due {
    pub(crate) id: i64,
    pub(crate) external_id: String,
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) occurred_at: DateTime<Utc>,
    pub(crate) metadata: Value,
}

/// Queues rows in the caller's transaction; a row whose `external_id` is queued is skipped.
pub(crate) async fn enqueue(
    conn: &mut PgConnection,
    rows: &[NewRow<'_>],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let external_ids: Vec<&str> = rows.iter().map(|r| r.external_id.as_str()).collect();
    let customers: Vec<&str> = rows.iter().map(|r| r.customer).collect();
    let features: Vec<&str> = rows.iter().map(|r| r.feature).collect();
    let event_ids: Vec<&str> = rows.iter().map(|r| r.event_id).collect();
    let units: Vec<i64> = rows.iter().map(|r| r.units).collect();
    let occurred: Vec<DateTime<Utc>> = rows.iter().map(|r| r.occurred_at).collect();
    let metadata: Vec<&Value> = rows.iter().map(|r| &r.metadata).collect();
    sqlx::query(
        "INSERT INTO overage_outbox (external_id, customer, feature, event_id, units, occurred_at,
                                     metadata, created_at, next_attempt_at)
         SELECT *, $8, $8
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                     $6::timestamptz[], $7::jsonb[])
         ON CONFLICT (external_id) DO NOTHING",
    )
    .bind(&external_ids)
    .bind(&customers)
    .bind(&features)
    .bind(&event_ids)
    .bind(&units)
    .bind(&occurred)
    .bind(&metadata)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims up to `limit` due rows, oldest attempt first, for the rest of the transaction; rows
/// another replica holds are skipped.
pub(crate) async fn claim_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, external_id, customer, feature, occurred_at, metadata
         FROM overage_outbox
         WHERE sent_at IS NULL AND next_attempt_at <= $1
         ORDER BY next_attempt_at, id
         LIMIT $2
         FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Marks the rows `ids` sent.
pub(crate) async fn mark_sent(
    conn: &mut PgConnection,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE overage_outbox
         SET sent_at = $2, attempts = attempts + 1, last_error = NULL
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed send of the rows `ids` and schedules the next attempt: 10 s after the
/// first failure, doubling each time, at most an hour apart.
pub(crate) async fn mark_failed(
    conn: &mut PgConnection,
    ids: &[i64],
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE overage_outbox
         SET attempts = attempts + 1, last_error = $2,
             next_attempt_at = $3 + retry_delay(attempts, interval '10 seconds', interval '1 hour')
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .bind(error)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
