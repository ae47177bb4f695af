//! What every table of Polar objects shares: an `id`, the object's `raw` JSON and its
//! `version_at`. Reconciliation compares and repairs objects of any of these tables alike.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::HashMap;

/// The tables of Polar objects.
const TABLES: [&str; 5] = [
    "products",
    "customers",
    "subscriptions",
    "orders",
    "benefit_grants",
];

/// `table` when it is one of [`TABLES`]: only those names are ever put into SQL text.
fn checked(table: &'static str) -> Result<&'static str, sqlx::Error> {
    TABLES
        .contains(&table)
        .then_some(table)
        .ok_or_else(|| sqlx::Error::Protocol(format!("`{table}` is not a table of Polar objects")))
}

/// The stored `version_at` of each of `ids` that is stored in `table`.
pub(crate) async fn versions(
    conn: &mut PgConnection,
    table: &'static str,
    ids: &[String],
) -> Result<HashMap<String, DateTime<Utc>>, sqlx::Error> {
    let sql = format!(
        "SELECT id, version_at FROM {} WHERE id = ANY($1)",
        checked(table)?
    );
    let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The stored object `id` of `table`, locked until the end of the transaction.
pub(crate) async fn lock(
    conn: &mut PgConnection,
    table: &'static str,
    id: &str,
) -> Result<Option<Value>, sqlx::Error> {
    let sql = format!(
        "SELECT raw FROM {} WHERE id = $1 FOR UPDATE",
        checked(table)?
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
}
