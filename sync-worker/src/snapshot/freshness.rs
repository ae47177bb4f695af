//! Keeping snapshots in step with usage, without rebuilding one per event.
//!
//! Counting usage marks the customer's `metered_customers` row in the same transaction:
//! `usage_changed_at` says the stored snapshot lags the counters, `urgent` that a count crossed
//! `warn_at` or the limit. A customer is rebuilt when it is marked and either urgent or last
//! rebuilt at least [`COALESCE_WINDOW`] ago; the claim (clearing the mark) and the rebuild share
//! one transaction, so a failed rebuild leaves the mark for the next pass. Usage counted while a
//! rebuild runs waits on the row lock and marks the customer again after it: nothing is missed.
//! Requests refresh their customers at once after committing, and once more when the window
//! that held one back has passed; [`refresh_due`] (the usage jobs) is the backstop for a
//! process that stopped in between.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::time::Duration;
use tollgate_gate::Catalog;

use super::SnapshotError;
use crate::db::metered_customers;

/// At most one usage-driven rebuild per customer in this window, unless a limit was crossed.
pub(crate) const COALESCE_WINDOW: Duration = Duration::from_secs(5);

/// Rebuilds each customer that is due; returns how many were rebuilt.
pub(crate) async fn refresh(
    pool: &PgPool,
    catalog: &Catalog,
    customers: &[String],
    now: DateTime<Utc>,
) -> Result<usize, SnapshotError> {
    let mut rebuilt = 0;
    for customer in customers {
        let mut tx = pool.begin().await?;
        if metered_customers::claim_due(&mut tx, customer, now, COALESCE_WINDOW).await? {
            super::rebuild(&mut tx, catalog, customer, now).await?;
            rebuilt += 1;
        }
        tx.commit().await?;
    }
    Ok(rebuilt)
}

/// Rebuilds every customer that is due (the trailing edge of the coalescing window).
pub(crate) async fn refresh_due(
    pool: &PgPool,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<usize, SnapshotError> {
    let mut rebuilt = 0;
    loop {
        let due = metered_customers::due(pool, now, COALESCE_WINDOW, 500).await?;
        if due.is_empty() {
            return Ok(rebuilt);
        }
        let done = refresh(pool, catalog, &due, now).await?;
        rebuilt += done;
        if done == 0 {
            // Another replica claimed them first.
            return Ok(rebuilt);
        }
    }
}
