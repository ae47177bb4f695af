//! `metered_customers`: per customer, whether the stored snapshot lags the usage counters
//! (`usage_changed_at`), whether a limit was crossed (`urgent`), and when usage last rebuilt it.

use chrono::{DateTime, Utc};
use sqlx::postgres::types::PgInterval;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;

/// A customer whose usage changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Changed {
    pub(crate) customer: String,
    /// A count crossed `warn_at` or the limit: rebuild at once.
    pub(crate) urgent: bool,
}

/// Marks customers whose usage changed, creating their rows (free users Polar does not know
/// included). Callers pass them sorted by customer, for a global lock order.
pub(crate) async fn mark(
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

/// Clears `customer`'s mark when it is due — urgent, or last rebuilt at least `window` ago —
/// and records a rebuild at `now`; `false` when it is not due (or another replica took it).
pub(crate) async fn claim_due(
    conn: &mut PgConnection,
    customer: &str,
    now: DateTime<Utc>,
    window: Duration,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE metered_customers
         SET usage_changed_at = NULL, urgent = false, rebuilt_at = $2
         WHERE customer = $1 AND usage_changed_at IS NOT NULL
           AND (urgent OR rebuilt_at IS NULL OR rebuilt_at <= $2 - $3::interval)",
    )
    .bind(customer)
    .bind(now)
    .bind(interval(window))
    .execute(conn)
    .await?;
    Ok(claimed.rows_affected() > 0)
}

/// Up to `limit` customers that are due at `now`, longest waiting first.
pub(crate) async fn due(
    pool: &PgPool,
    now: DateTime<Utc>,
    window: Duration,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT customer FROM metered_customers
         WHERE usage_changed_at IS NOT NULL
           AND (urgent OR rebuilt_at IS NULL OR rebuilt_at <= $1 - $2::interval)
         ORDER BY usage_changed_at
         LIMIT $3",
    )
    .bind(now)
    .bind(interval(window))
    .bind(limit)
    .fetch_all(pool)
    .await
}

fn interval(window: Duration) -> PgInterval {
    PgInterval {
        months: 0,
        days: 0,
        microseconds: i64::try_from(window.as_micros()).unwrap_or(i64::MAX),
    }
}
