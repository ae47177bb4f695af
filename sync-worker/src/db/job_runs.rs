//! `job_runs`: one row per run of a scheduled job, keyed by (job, tick), so a tick runs once
//! across replicas.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;

/// How a run ended, as stored.
#[derive(Debug)]
pub(crate) struct Finish<'a> {
    /// `succeeded`, `skipped` or `failed`.
    pub(crate) outcome: &'a str,
    pub(crate) counts: Value,
    pub(crate) error: Option<String>,
}

/// Inserts the run `(job, tick)`; `false` when a run of that tick exists already.
pub(crate) async fn claim(
    conn: impl PgExecutor<'_>,
    job: &str,
    tick: DateTime<Utc>,
    trigger: &str,
    runner: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO job_runs (job, tick, trigger, runner, started_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job, tick) DO NOTHING
         RETURNING job",
    )
    .bind(job)
    .bind(tick)
    .bind(trigger)
    .bind(runner)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Records the end of the run `(job, tick)`.
pub(crate) async fn finish(
    conn: impl PgExecutor<'_>,
    job: &str,
    tick: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    finish: Finish<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE job_runs SET finished_at = $3, outcome = $4, counts = $5, error = $6
         WHERE job = $1 AND tick = $2",
    )
    .bind(job)
    .bind(tick)
    .bind(finished_at)
    .bind(finish.outcome)
    .bind(finish.counts)
    .bind(finish.error)
    .execute(conn)
    .await?;
    Ok(())
}

/// The jobs with a run unfinished since before `before`, by name.
pub(crate) async fn unfinished_since(
    conn: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT job FROM job_runs
         WHERE finished_at IS NULL AND started_at < $1 ORDER BY job",
    )
    .bind(before)
    .fetch_all(conn)
    .await
}

/// Forgets runs finished before `before`; returns how many.
pub(crate) async fn delete_finished_before(
    conn: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM job_runs WHERE finished_at < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
