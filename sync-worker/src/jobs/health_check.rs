//! Health check (every 10 minutes): [`crate::health`] checked and its problems raised as alerts.

use super::Deps;
use super::scheduler::Finished;
use crate::health;
use chrono::{DateTime, Utc};
use serde_json::json;

pub const NAME: &str = "health_check";

pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> anyhow::Result<Finished> {
    let report = health::check(&deps.pool, deps.polar.as_ref(), now).await;
    health::record(&deps.pool, &report, now).await?;
    Ok(Finished::Succeeded(json!({
        "checks": report.checks.len(),
        "problems": report.problems().count(),
    })))
}
