//! `usage_counters` and `usage_gauges` as the engine reads them, and the periods counts are
//! kept in.
//!
//! A counter row is (customer, feature, period start). The period is the one the engine gives
//! for the feature at `now` — read from a snapshot built for the customer, so billing periods,
//! calendar months, days and renewals follow the engine's rules exactly. A feature that never
//! resets counts in one period that starts at the Unix epoch.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::collections::BTreeMap;
use tollgate_gate::{Account, Catalog, FeatureType, Snapshot, Timestamp, build_snapshot};

use super::to_datetime;

/// The period a metered feature counts in at the snapshot's `issued_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    /// The Unix epoch for features that never reset.
    pub start: DateTime<Utc>,
    /// `None` for features that never reset.
    pub end: Option<DateTime<Utc>>,
}

/// The period `feature` counts in, per the snapshot; `None` when it is not metered.
pub fn period(snapshot: &Snapshot, feature: &str) -> Option<Period> {
    let feature = snapshot.features.get(feature)?;
    (feature.kind == FeatureType::Metered).then(|| Period {
        start: feature
            .period_start
            .map_or(DateTime::UNIX_EPOCH, to_datetime),
        end: feature.resets_at.map(to_datetime),
    })
}

/// Fills `account.usage` with the counts of the periods current at `now`, and
/// `account.gauges` with the stored levels.
pub async fn fill(
    conn: &mut PgConnection,
    catalog: &Catalog,
    account: &mut Account,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    fill_many(conn, catalog, std::slice::from_mut(account), now).await
}

/// [`fill`] for many accounts, in two round trips whatever their number.
pub async fn fill_many(
    conn: &mut PgConnection,
    catalog: &Catalog,
    accounts: &mut [Account],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    // The periods come from a snapshot built without usage: usage never moves a period.
    let mut customers = Vec::new();
    let mut features = Vec::new();
    let mut starts = Vec::new();
    for account in accounts.iter_mut() {
        account.usage.clear();
        account.gauges.clear();
        let snapshot = build_snapshot(catalog, account, now);
        for key in snapshot.features.keys() {
            if let Some(period) = period(&snapshot, key) {
                customers.push(account.customer.clone());
                features.push(key.clone());
                starts.push(period.start);
            }
        }
    }
    let counts: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT c.customer, c.feature, c.used
         FROM usage_counters c
         JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS p(customer, feature, period_start)
           ON c.customer = p.customer AND c.feature = p.feature
          AND c.period_start = p.period_start",
    )
    .bind(&customers)
    .bind(&features)
    .bind(&starts)
    .fetch_all(&mut *conn)
    .await?;
    let everyone: Vec<&str> = accounts.iter().map(|a| a.customer.as_str()).collect();
    let levels: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT customer, feature, level FROM usage_gauges WHERE customer = ANY($1)",
    )
    .bind(&everyone)
    .fetch_all(&mut *conn)
    .await?;
    let index: BTreeMap<String, usize> = accounts
        .iter()
        .enumerate()
        .map(|(i, account)| (account.customer.clone(), i))
        .collect();
    for (customer, feature, used) in counts {
        if let Some(account) = index.get(&customer).and_then(|&i| accounts.get_mut(i)) {
            account.usage.insert(feature, to_unit(used));
        }
    }
    for (customer, feature, level) in levels {
        if let Some(account) = index.get(&customer).and_then(|&i| accounts.get_mut(i)) {
            account.gauges.insert(feature, to_unit(level));
        }
    }
    Ok(())
}

/// The stored gauge levels of `customer`.
pub async fn gauges(
    conn: &mut PgConnection,
    customer: &str,
) -> Result<BTreeMap<String, u64>, sqlx::Error> {
    let levels: Vec<(String, i64)> =
        sqlx::query_as("SELECT feature, level FROM usage_gauges WHERE customer = $1")
            .bind(customer)
            .fetch_all(conn)
            .await?;
    Ok(to_units(levels))
}

fn to_units(rows: Vec<(String, i64)>) -> BTreeMap<String, u64> {
    rows.into_iter()
        .map(|(feature, n)| (feature, to_unit(n)))
        .collect()
}

/// A stored count as the engine reads it; counts are never negative.
fn to_unit(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

/// Units to add to one counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Increment {
    pub customer: String,
    pub feature: String,
    pub period: Period,
    pub units: i64,
}

/// Adds every increment to its counter (creating it at zero) and returns the counts after,
/// in the order given. Callers sort increments by (customer, feature, period) so that
/// concurrent batches lock counter rows in one global order and cannot deadlock.
pub async fn add(
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
pub async fn lock(
    conn: &mut PgConnection,
    customer: &str,
    feature: &str,
    period: Period,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let (used,): (i64,) = sqlx::query_as(
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
    .await?;
    Ok(used)
}
