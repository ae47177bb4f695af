//! `grants`: extra allowance given by hand, live until ended or expired.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

/// A stored grant. `kind` is `units` (with `units`), `unlimited` or `enabled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub(crate) struct GrantRow {
    pub(crate) id: i64,
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) kind: String,
    pub(crate) units: Option<i64>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) reason: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) created_by: String,
    pub(crate) ended_at: Option<DateTime<Utc>>,
    pub(crate) ended_by: Option<String>,
}

/// A grant to store.
#[derive(Debug, Clone)]
pub(crate) struct NewGrant<'a> {
    pub(crate) customer: &'a str,
    pub(crate) feature: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) units: Option<i64>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) reason: &'a str,
    pub(crate) created_by: &'a str,
}

const COLUMNS: &str = "id, customer, feature, kind, units, expires_at, reason, created_at, \
                       created_by, ended_at, ended_by";

pub(crate) async fn insert(
    conn: &mut PgConnection,
    grant: &NewGrant<'_>,
    now: DateTime<Utc>,
) -> Result<GrantRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO grants (customer, feature, kind, units, expires_at, reason, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING {COLUMNS}"
    )))
    .bind(grant.customer)
    .bind(grant.feature)
    .bind(grant.kind)
    .bind(grant.units)
    .bind(grant.expires_at)
    .bind(grant.reason)
    .bind(now)
    .bind(grant.created_by)
    .fetch_one(conn)
    .await
}

/// Locks the grant `id` for the rest of the transaction.
pub(crate) async fn lock(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<GrantRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM grants WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Ends the live grant `id`; `None` when there is none.
pub(crate) async fn end(
    conn: &mut PgConnection,
    id: i64,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Option<GrantRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE grants SET ended_at = $2, ended_by = $3
         WHERE id = $1 AND ended_at IS NULL
         RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(now)
    .bind(by)
    .fetch_optional(conn)
    .await
}

/// The grants of `customer` (every customer when `None`), newest first.
pub(crate) async fn list(
    conn: &mut PgConnection,
    customer: Option<&str>,
    limit: i64,
) -> Result<Vec<GrantRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM grants
         WHERE $1::text IS NULL OR customer = $1
         ORDER BY id DESC
         LIMIT $2"
    )))
    .bind(customer)
    .bind(limit)
    .fetch_all(conn)
    .await
}
