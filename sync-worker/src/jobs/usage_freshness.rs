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
