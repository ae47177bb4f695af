//! `usage_counters`: one count per (customer, metered feature, period).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// The period a counter counts in, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Period {
    /// The Unix epoch for features that never reset.
    pub(crate) start: DateTime<Utc>,
    /// `None` for features that never reset.
    pub(crate) end: Option<DateTime<Utc>>,
}

/// A counter, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key<'a> {
    pub(crate) customer: &'a str,
    pub(crate) feature: &'a str,
    pub(crate) period_start: DateTime<Utc>,
}

/// Units to add to one counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Increment {
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) period: Period,
    pub(crate) units: i64,
}

/// The counts of the counters `keys` that exist, as (customer, feature, used).
pub(crate) async fn counts(
    conn: &mut PgConnection,
    keys: &[Key<'_>],
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let customers: Vec<&str> = keys.iter().map(|k| k.customer).collect();
    let features: Vec<&str> = keys.iter().map(|k| k.feature).collect();
    let starts: Vec<DateTime<Utc>> = keys.iter().map(|k| k.period_start).collect();
    sqlx::query_as(
        "SELECT c.customer, c.feature, c.used
         FROM usage_counters c
         JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS p(customer, feature, period_start)
           ON c.customer = p.customer AND c.feature = p.feature
          AND c.period_start = p.period_start",
    )
    .bind(&customers)
    .bind(&features)
    .bind(&starts)
    .fetch_all(conn)
    .await
}

/// Adds every increment to its counter (creating it at zero) and returns the counts after,
/// in the order given. Callers sort increments by (customer, feature, period) so that
/// concurrent batches lock counter rows in one global order and cannot deadlock.
pub(crate) async fn add(
    conn: &mut PgConnection,
    increments: &[Increment],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, sqlx::Error> {
    if increments.is_empty() {
        return Ok(Vec::new());
    }
    let customers: Vec<&str> = increments.iter().map(|i| i.customer.as_str()).collect();
    let features: Vec<&str> = increments.iter().map(|i| i.feature.as_str()).collect();
    let starts: Vec<DateTime<Utc>> = increments.iter().map(|i| i.period.start).collect();
    let ends: Vec<Option<DateTime<Utc>>> = increments.iter().map(|i| i.period.end).collect();
    let units: Vec<i64> = increments.iter().map(|i| i.units).collect();
    let rows: Vec<(i32, i64)> = sqlx::query_as(
        "WITH input AS (
             SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[],
                                  $5::bigint[]) WITH ORDINALITY
                 AS i(customer, feature, period_start, period_end, units, n)
         ), counted AS (
             INSERT INTO usage_counters (customer, feature, period_start, period_end, used, updated_at)
             SELECT customer, feature, period_start, period_end, units, $6 FROM input ORDER BY n
             ON CONFLICT (customer, feature, period_start) DO UPDATE
                 SET used = usage_counters.used + excluded.used, updated_at = excluded.updated_at
             RETURNING customer, feature, period_start, used
         )
         SELECT i.n::int4, c.used
         FROM counted c JOIN input i USING (customer, feature, period_start)
         ORDER BY i.n",
    )
    .bind(&customers)
    .bind(&features)
    .bind(&starts)
    .bind(&ends)
    .bind(&units)
    .bind(now)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(_, used)| used).collect())
}

/// Locks `customer`'s counter of `feature` in `period` for the rest of the transaction
/// (creating it at zero) and returns its count.
pub(crate) async fn lock(
    conn: &mut PgConnection,
    customer: &str,
    feature: &str,
    period: Period,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO usage_counters (customer, feature, period_start, period_end, used, updated_at)
         VALUES ($1, $2, $3, $4, 0, $5)
         ON CONFLICT (customer, feature, period_start) DO UPDATE SET used = usage_counters.used
         RETURNING used",
    )
    .bind(customer)
    .bind(feature)
    .bind(period.start)
    .bind(period.end)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// The columns of the usage export, in order.
pub(crate) const EXPORT_COLUMNS: &[&str] = &[
    "customer",
    "feature",
    "period_start",
    "period_end",
    "used",
    "updated_at",
];

/// Every counter of a period that starts in `[from, to)`, as text columns.
pub(crate) fn export(
    pool: &sqlx::PgPool,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> super::ExportRows<'_> {
    sqlx::query(
        "SELECT customer, feature,
                to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                to_char(period_end AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                used::text,
                to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
         FROM usage_counters
         WHERE ($1::timestamptz IS NULL OR period_start >= $1)
           AND ($2::timestamptz IS NULL OR period_start < $2)
         ORDER BY period_start, customer, feature",
    )
    .bind(from)
    .bind(to)
    .fetch(pool)
}

/// Sets the count of an existing counter (one [`lock`]ed in this transaction).
pub(crate) async fn set(
    conn: &mut PgConnection,
    key: &Key<'_>,
    used: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE usage_counters SET used = $4, updated_at = $5
         WHERE customer = $1 AND feature = $2 AND period_start = $3",
    )
    .bind(key.customer)
    .bind(key.feature)
    .bind(key.period_start)
    .bind(used)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every customer's count of `feature` in the period that holds `now`, by customer.
pub(crate) async fn current_of_feature(
    conn: &mut PgConnection,
    feature: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT customer, used FROM usage_counters
         WHERE feature = $1 AND period_start <= $2 AND (period_end IS NULL OR period_end > $2)
           AND used > 0
         ORDER BY customer",
    )
    .bind(feature)
    .bind(now)
    .fetch_all(conn)
    .await
}
