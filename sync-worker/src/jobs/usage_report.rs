//! The monthly usage report (1st of the month, 00:00 UTC): stores the month just ended's
//! usage per customer and feature in `usage_monthly`, so that `tollgate report usage` and later
//! reports read it after the month's de-duplication keys expire. Running it again for the same
//! month (a replay, or by hand) replaces the month's rows: it never counts twice.

use super::Deps;
use super::scheduler::Finished;
use crate::db;
use crate::usage::report::{self, Month};
use chrono::{DateTime, Utc};
use serde_json::json;

pub(crate) const NAME: &str = "usage_report";

/// Stores the lines of the month before `now`'s.
pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> anyhow::Result<Finished> {
    let month = Month::before(now);
    let lines = report::counted(&deps.pool, month).await?;
    let mut tx = deps.pool.begin().await?;
    let stored = db::usage_monthly::replace(&mut tx, month.first(), &lines, now).await?;
    tx.commit().await?;
    tracing::info!(%month, stored, "monthly usage stored");
    Ok(Finished::Succeeded(
        json!({ "month": month.to_string(), "lines": stored }),
    ))
}
