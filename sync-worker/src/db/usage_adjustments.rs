//! `usage_adjustments`: signed changes of a metered counter made by hand.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub(crate) struct AdjustmentRow {
    pub(crate) id: i64,
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) period_start: DateTime<Utc>,
    pub(crate) delta: i64,
    /// What the counter moved (the delta, stopped at 0).
    pub(crate) applied: i64,
    pub(crate) used_after: i64,
    pub(crate) reason: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) created_by: String,
}

/// An adjustment to store.
#[derive(Debug, Clone)]
pub(crate) struct NewAdjustment<'a> {
    pub(crate) customer: &'a str,
    pub(crate) feature: &'a str,
    pub(crate) period_start: DateTime<Utc>,
    pub(crate) delta: i64,
    pub(crate) applied: i64,
    pub(crate) used_after: i64,
    pub(crate) reason: &'a str,
    pub(crate) created_by: &'a str,
}

const COLUMNS: &str = "id, customer, feature, period_start, delta, applied, used_after, reason, \
                       created_at, created_by";

pub(crate) async fn insert(
    conn: &mut PgConnection,
    adjustment: &NewAdjustment<'_>,
    now: DateTime<Utc>,
) -> Result<AdjustmentRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO usage_adjustments (customer, feature, period_start, delta, applied,
                                        used_after, reason, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING {COLUMNS}"
    )))
    .bind(adjustment.customer)
    .bind(adjustment.feature)
    .bind(adjustment.period_start)
    .bind(adjustment.delta)
    .bind(adjustment.applied)
    .bind(adjustment.used_after)
    .bind(adjustment.reason)
    .bind(now)
    .bind(adjustment.created_by)
    .fetch_one(conn)
    .await
}
