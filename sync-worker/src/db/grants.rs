//! `grants`: extra allowance given by hand, live until ended or expired.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

/// A stored grant. `kind` is `units` (with `units`), `unlimited` or `enabled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct GrantRow {
    pub id: i64,
    pub customer: String,
    pub feature: String,
    pub kind: String,
    pub units: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<String>,
}

/// A grant to store.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    pub customer: &'a str,
    pub feature: &'a str,
    pub kind: &'a str,
    pub units: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: &'a str,
    pub created_by: &'a str,
}

const COLUMNS: &str = "id, customer, feature, kind, units, expires_at, reason, created_at, \
                       created_by, ended_at, ended_by";

pub async fn insert(
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
pub async fn lock(conn: &mut PgConnection, id: i64) -> Result<Option<GrantRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM grants WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Ends the live grant `id`; `None` when there is none.
pub async fn end(
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
pub async fn list(
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
