//! Usage freshness: the trailing edge of the per-customer coalescing window.
//!
//! A request that changes usage rebuilds its customer's snapshot at once unless the customer
//! was rebuilt within the window; this job rebuilds those held back once their window passes.

use chrono::{DateTime, Utc};

use crate::snapshot::{SnapshotError, freshness};
use crate::usage::Deps;

/// Rebuilds every due snapshot; returns how many.
pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> Result<usize, SnapshotError> {
    freshness::refresh_due(&deps.pool, &deps.catalog, now).await
}

/// How often the service looks for snapshots whose window has passed: well inside the window,
/// so a held-back count shows within about a second of the window's end.
const EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs [`run_once`] every second at the clock's time until the task is aborted; a failed run
/// is logged and the next one tries again.
pub(crate) async fn run_forever(deps: Deps, clock: crate::clock::Clock) {
    let (deps, clock) = (&deps, &clock);
    crate::pace::every(EVERY, move || async move {
        match run_once(deps, clock.now()).await {
            Ok(0) => {}
            Ok(rebuilt) => tracing::debug!(rebuilt, "held-back usage snapshots rebuilt"),
            Err(error) => tracing::warn!(error = %error, "usage freshness failed"),
        }
    })
    .await
}
