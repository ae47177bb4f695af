//! Weekly cleanup of de-duplication keys past their retention (see `usage::retention`).

use chrono::{DateTime, Utc};

use crate::usage::{Deps, UsageError, retention};

pub(crate) const NAME: &str = "usage_cleanup";

/// Deletes expired keys; returns how many.
pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> Result<u64, UsageError> {
    let deleted = retention::delete_expired(&deps.pool, now).await?;
    tracing::info!(deleted, cutoff = %retention::cutoff(now), "expired usage keys deleted");
    Ok(deleted)
}
