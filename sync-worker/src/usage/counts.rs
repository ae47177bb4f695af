//! `usage_counters` and `usage_gauges` as the engine reads them, and the periods counts are
//! kept in.
//!
//! A counter row is (customer, feature, period start). The period is the one the engine gives
//! for the feature at `now` (`metered_periods`), so billing periods, calendar months, days and
//! renewals follow the engine's rules exactly. A feature that never resets counts in one period
//! that starts at the Unix epoch.

use chrono::DateTime;
use sqlx::PgConnection;
use std::collections::BTreeMap;
use tollgate_gate::{Account, Catalog, Timestamp, metered_periods};

use super::to_datetime;
use crate::db::{self, usage_counters::Key};

pub(crate) use crate::db::usage_counters::{Increment, Period};

/// A period of the engine as a counter stores it (features that never reset count in one
/// period that starts at the Unix epoch).
pub(crate) fn stored(period: tollgate_gate::Period) -> Period {
    Period {
        start: period.start.map_or(DateTime::UNIX_EPOCH, to_datetime),
        end: period.resets_at.map(to_datetime),
    }
}

/// Fills each account's `usage` with the counts of the periods current at `now`, and its
/// `gauges` with the stored levels, in two round trips whatever their number.
pub(crate) async fn fill_many(
    conn: &mut PgConnection,
    catalog: &Catalog,
    accounts: &mut [Account],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let mut periods = Vec::new();
    for account in accounts.iter_mut() {
        account.usage.clear();
        account.gauges.clear();
        for (feature, period) in metered_periods(catalog, account, now).iter() {
            periods.push((account.customer.clone(), feature, stored(period).start));
        }
    }
    let keys: Vec<Key<'_>> = periods
        .iter()
        .map(|(customer, feature, period_start)| Key {
            customer,
            feature,
            period_start: *period_start,
        })
        .collect();
    let counts = db::usage_counters::counts(conn, &keys).await?;
    let everyone: Vec<&str> = accounts.iter().map(|a| a.customer.as_str()).collect();
    let levels = db::usage_gauges::levels(conn, &everyone).await?;
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
pub(crate) async fn gauges(
    conn: &mut PgConnection,
    customer: &str,
) -> Result<BTreeMap<String, u64>, sqlx::Error> {
    let levels = db::usage_gauges::levels(conn, &[customer]).await?;
    Ok(levels
        .into_iter()
        .map(|(_, feature, n)| (feature, to_unit(n)))
        .collect())
}

/// A stored count as the engine reads it; counts are never negative.
pub(crate) fn to_unit(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}
