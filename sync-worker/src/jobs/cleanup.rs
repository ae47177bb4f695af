//! Cleanup (weekly): forgets old bookkeeping — finished job runs and resolved alerts after 90
//! days, and applied or ignored webhook deliveries after 90 days (long past any redelivery
//! Polar makes, so duplicates are still caught); idempotency keys once they expired (24 hours);
//! events for the app after 90 days, delivered or not (an app unreachable that long has moved
//! on; its alerts said so).

use super::Deps;
use super::scheduler::Finished;
use crate::db;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

pub(crate) const NAME: &str = "cleanup";

/// How long finished bookkeeping is kept.
pub(crate) const RETENTION: Duration = Duration::days(90);

pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> anyhow::Result<Finished> {
    let before = now - RETENTION;
    let mut conn = deps.pool.acquire().await?;
    let job_runs = db::job_runs::delete_finished_before(&mut *conn, before).await?;
    let alerts = db::alerts::delete_resolved_before(&mut conn, before).await?;
    let webhooks = db::webhook_events::delete_done_before(&mut conn, before).await?;
    let idempotency_keys = db::idempotency_keys::delete_expired(&mut conn, now).await?;
    let app_events = db::app_events::delete_before(&mut conn, before).await?;
    Ok(Finished::Succeeded(json!({
        "idempotency_keys": idempotency_keys,
        "job_runs": job_runs,
        "alerts": alerts,
        "webhook_events": webhooks,
        "app_events": app_events,
    })))
}
