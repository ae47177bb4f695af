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
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use tollgate_gate::Catalog;

use super::UsageError;
use crate::snapshot;

/// At most one usage-driven rebuild per customer in this window, unless a limit was crossed.
pub const COALESCE_WINDOW: Duration = Duration::from_secs(5);

/// A customer whose usage changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Changed {
    pub customer: String,
    /// A count crossed `warn_at` or the limit: rebuild at once.
    pub urgent: bool,
}

/// Marks customers whose usage changed, creating their rows (free users Polar does not know
/// included). Callers pass them sorted by customer, for a global lock order.
pub async fn mark(
    conn: &mut PgConnection,
    changed: &[Changed],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if changed.is_empty() {
        return Ok(());
    }
    let customers: Vec<&str> = changed.iter().map(|c| c.customer.as_str()).collect();
    let urgent: Vec<bool> = changed.iter().map(|c| c.urgent).collect();
    sqlx::query(
        "INSERT INTO metered_customers (customer, first_seen_at, usage_changed_at, urgent)
         SELECT customer, $3, $3, urgent FROM unnest($1::text[], $2::bool[]) AS c(customer, urgent)
         ON CONFLICT (customer) DO UPDATE
             SET usage_changed_at = COALESCE(metered_customers.usage_changed_at, excluded.usage_changed_at),
                 urgent = metered_customers.urgent OR excluded.urgent",
    )
    .bind(&customers)
    .bind(&urgent)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Rebuilds each customer that is due; returns how many were rebuilt.
pub async fn refresh(
    pool: &PgPool,
    catalog: &Catalog,
    customers: &[String],
    now: DateTime<Utc>,
) -> Result<usize, UsageError> {
    let mut rebuilt = 0;
    for customer in customers {
        let mut tx = pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE metered_customers
             SET usage_changed_at = NULL, urgent = false, rebuilt_at = $2
             WHERE customer = $1 AND usage_changed_at IS NOT NULL
               AND (urgent OR rebuilt_at IS NULL OR rebuilt_at <= $2 - $3::interval)",
        )
        .bind(customer)
        .bind(now)
        .bind(window())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if claimed {
            snapshot::rebuild(&mut tx, catalog, customer, now).await?;
            rebuilt += 1;
        }
        tx.commit().await?;
    }
    Ok(rebuilt)
}

/// Rebuilds every customer that is due (the trailing edge of the coalescing window).
pub async fn refresh_due(
    pool: &PgPool,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<usize, UsageError> {
    let mut rebuilt = 0;
    loop {
        let due: Vec<(String,)> = sqlx::query_as(
            "SELECT customer FROM metered_customers
             WHERE usage_changed_at IS NOT NULL
               AND (urgent OR rebuilt_at IS NULL OR rebuilt_at <= $1 - $2::interval)
             ORDER BY usage_changed_at
             LIMIT 500",
        )
        .bind(now)
        .bind(window())
        .fetch_all(pool)
        .await?;
        if due.is_empty() {
            return Ok(rebuilt);
        }
        let customers: Vec<String> = due.into_iter().map(|(c,)| c).collect();
        let done = refresh(pool, catalog, &customers, now).await?;
        rebuilt += done;
        if done == 0 {
            // Another replica claimed them first.
            return Ok(rebuilt);
        }
    }
}

fn window() -> sqlx::postgres::types::PgInterval {
    sqlx::postgres::types::PgInterval {
        months: 0,
        days: 0,
        microseconds: i64::try_from(COALESCE_WINDOW.as_micros()).unwrap_or(i64::MAX),
    }
}
