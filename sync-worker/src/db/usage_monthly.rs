//! `usage_monthly`: the usage report's lines of a month, stored by the monthly job.

use super::usage_events::Total;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};

/// Replaces the stored lines of `month` with `lines`; returns how many were stored.
pub(crate) async fn replace(
    conn: &mut PgConnection,
    month: NaiveDate,
    lines: &[Total],
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM usage_monthly WHERE month = $1")
        .bind(month)
        .execute(&mut *conn)
        .await?;
    let customers: Vec<&str> = lines.iter().map(|l| l.customer.as_str()).collect();
    let features: Vec<&str> = lines.iter().map(|l| l.feature.as_str()).collect();
    let events: Vec<i64> = lines.iter().map(|l| l.events).collect();
    let units: Vec<i64> = lines.iter().map(|l| l.units).collect();
    let overage: Vec<i64> = lines.iter().map(|l| l.overage_units).collect();
    let done = sqlx::query(
        "INSERT INTO usage_monthly (month, customer, feature, events, units, overage_units,
                                    computed_at)
         SELECT $1, l.* , $7
         FROM unnest($2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[]) AS l",
    )
    .bind(month)
    .bind(&customers)
    .bind(&features)
    .bind(&events)
    .bind(&units)
    .bind(&overage)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The stored lines of `month` by customer then feature; `None` when the month was never
/// stored.
pub(crate) async fn of_month(
    pool: &PgPool,
    month: NaiveDate,
) -> Result<Option<Vec<Total>>, sqlx::Error> {
    // `replace` stores no month without rows, so a month without rows is one never stored.
    let rows: Vec<Total> = sqlx::query_as(
        "SELECT customer, feature, events, units, overage_units FROM usage_monthly
         WHERE month = $1 ORDER BY customer, feature",
    )
    .bind(month)
    .fetch_all(pool)
    .await?;
    Ok((!rows.is_empty()).then_some(rows))
}
