//! Weekly cleanup of de-duplication keys past their retention (see `usage::retention`).

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::usage::{Deps, UsageError, retention};

pub const NAME: &str = "usage_cleanup";
pub const INTERVAL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Deletes expired keys; returns how many.
pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> Result<u64, UsageError> {
    let deleted = retention::delete_expired(&deps.pool, now).await?;
    tracing::info!(deleted, cutoff = %retention::cutoff(now), "expired usage keys deleted");
    Ok(deleted)
}
