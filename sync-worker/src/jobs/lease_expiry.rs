//! Lease expiry (every minute): settles leases left open past their expiry as fully used.
//!
//! A lease's holder (the edge's Durable Object) settles it when idle or at the period end; one
//! that never does (evicted, or cut off from the sync worker) may have spent every unit, so its
//! whole grant is counted as usage: a period can be undercounted by nothing, at the cost of
//! counting unspent units of a lost lease. A grant on the same counter settles that counter's
//! expired leases itself, so this job only bounds how long the counts lag.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::Deps;
use super::scheduler::Finished;
use crate::leases;

pub(crate) const NAME: &str = "lease_expiry";

/// Leases settled per run at most; the rest wait for the next minute.
const BATCH: i64 = 10_000;

pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> anyhow::Result<Finished> {
    let settled = leases::settle_expired(&deps.pool, now, BATCH).await?;
    if settled > 0 {
        tracing::info!(settled, "expired leases settled as fully used");
    }
    Ok(Finished::Succeeded(json!({ "settled": settled })))
}
