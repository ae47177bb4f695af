//! `usage_adjustments`: signed changes of a metered counter made by hand.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AdjustmentRow {
    pub id: i64,
    pub customer: String,
    pub feature: String,
    pub period_start: DateTime<Utc>,
    pub delta: i64,
    /// What the counter moved (the delta, stopped at 0).
    pub applied: i64,
    pub used_after: i64,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// An adjustment to store.
#[derive(Debug, Clone)]
pub struct NewAdjustment<'a> {
    pub customer: &'a str,
    pub feature: &'a str,
    pub period_start: DateTime<Utc>,
    pub delta: i64,
    pub applied: i64,
    pub used_after: i64,
    pub reason: &'a str,
    pub created_by: &'a str,
}

const COLUMNS: &str = "id, customer, feature, period_start, delta, applied, used_after, reason, \
                       created_at, created_by";

pub async fn insert(
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
