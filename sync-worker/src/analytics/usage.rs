//! `GET /v1/analytics/usage?feature=&from=&to=&interval=day`: how one feature is used — units,
//! events and customers per interval, the spread of units per customer, the heaviest users,
//! and who stands at the plan's `warn_at` or at its limit now.
//!
//! Totals come from the counted events (the de-duplication keys, kept at least 35 days); the
//! levels now come from the current period's counters (gauges: the reported levels), each
//! judged by the engine for the customer's own plan and grants.

use super::{AnalyticsError, Range, Step};
use crate::account;
use crate::db;
use crate::usage::levels::{Judge, Level};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use tollgate_gate::{Catalog, FeatureType, Timestamp};

/// The heaviest users listed.
const TOP: i64 = 10;
/// Customers judged per round trip for their level now.
const JUDGED_PER_LOAD: usize = 500;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct UsageReport {
    pub(crate) feature: String,
    pub(crate) from: String,
    pub(crate) to: String,
    #[schema(value_type = String)]
    pub(crate) interval: &'static str,
    pub(crate) intervals: Vec<Interval>,
    pub(crate) total: i64,
    pub(crate) customers: i64,
    pub(crate) per_customer: PerCustomer,
    pub(crate) top_customers: Vec<CustomerUse>,
    /// Customers at or past `warn_at` of their limit now, and below the limit.
    pub(crate) at_warn: Vec<CustomerUse>,
    /// Customers at or past their limit now.
    pub(crate) at_limit: Vec<CustomerUse>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = UsageInterval)]
pub(crate) struct Interval {
    #[schema(value_type = String, format = DateTime)]
    pub(crate) start: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub(crate) end: DateTime<Utc>,
    pub(crate) total: i64,
    pub(crate) events: i64,
    pub(crate) customers: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = UsagePerCustomer)]
pub(crate) struct PerCustomer {
    pub(crate) p50: Option<i64>,
    pub(crate) p95: Option<i64>,
    pub(crate) max: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct CustomerUse {
    pub(crate) customer: String,
    pub(crate) used: i64,
}

/// The defaults: the last 30 days up to the end of today, by day.
pub(crate) fn default_range(now: DateTime<Utc>) -> Range {
    let today = now.date_naive();
    Range {
        from: today - chrono::Days::new(29),
        to: today + chrono::Days::new(1),
        step: Step::Day,
    }
}

pub(crate) async fn report(
    conn: &mut PgConnection,
    catalog: &Catalog,
    feature: &str,
    range: Range,
    now: DateTime<Utc>,
) -> Result<UsageReport, AnalyticsError> {
    let Some(kind) = catalog.feature(feature).map(|f| f.kind) else {
        return Err(AnalyticsError::UnknownFeature(feature.to_owned()));
    };
    let (from, to) = (range.start(), range.end());
    let rows = db::usage_events::per_interval(conn, feature, from, to, range.step.sql()).await?;
    let spread = db::usage_events::spread(conn, feature, from, to, TOP).await?;
    let current = match kind {
        FeatureType::Gauge => db::usage_gauges::levels_of_feature(conn, feature).await?,
        FeatureType::Metered => db::usage_counters::current_of_feature(conn, feature, now).await?,
        _ => Vec::new(),
    };
    let (at_warn, at_limit) = levels(conn, catalog, feature, current, now).await?;
    let intervals = range
        .intervals()
        .into_iter()
        .map(|(start, end)| {
            let row = rows.iter().find(|r| r.start == start);
            Interval {
                start,
                end,
                total: row.map_or(0, |r| r.units),
                events: row.map_or(0, |r| r.events),
                customers: row.map_or(0, |r| r.customers),
            }
        })
        .collect();
    Ok(UsageReport {
        feature: feature.to_owned(),
        from: range.from.to_string(),
        to: range.to.to_string(),
        interval: range.step.as_str(),
        intervals,
        total: spread.units,
        customers: spread.customers,
        per_customer: PerCustomer {
            p50: spread.p50,
            p95: spread.p95,
            max: spread.max,
        },
        top_customers: spread
            .top
            .0
            .into_iter()
            .map(|(customer, used)| CustomerUse { customer, used })
            .collect(),
        at_warn,
        at_limit,
    })
}

/// The customers whose count now the engine puts at `warn_at` (soft limit) or at the limit.
async fn levels(
    conn: &mut PgConnection,
    catalog: &Catalog,
    feature: &str,
    current: Vec<(String, i64)>,
    now: DateTime<Utc>,
) -> Result<(Vec<CustomerUse>, Vec<CustomerUse>), AnalyticsError> {
    let at = Timestamp::from(now);
    let (mut warn, mut limit) = (Vec::new(), Vec::new());
    for chunk in current.chunks(JUDGED_PER_LOAD) {
        let customers: Vec<&str> = chunk.iter().map(|(c, _)| c.as_str()).collect();
        let accounts = account::load(conn, &customers).await?;
        for ((customer, used), account) in chunk.iter().zip(accounts) {
            // An account the engine cannot compile is left out rather than failing the report.
            let Ok(judge) = Judge::new(catalog, &account, at) else {
                continue;
            };
            let level = Level::of(
                &judge
                    .feature(feature, u64::try_from(*used).unwrap_or(0))
                    .decide(0),
            );
            let entry = CustomerUse {
                customer: customer.clone(),
                used: *used,
            };
            match level {
                Level::Limit => limit.push(entry),
                Level::SoftLimit => warn.push(entry),
                Level::Normal => {}
            }
        }
    }
    Ok((warn, limit))
}
