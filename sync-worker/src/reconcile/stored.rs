//! What the database holds of the objects a Polar list returned.

use super::resource::Resource;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::HashMap;

/// The stored `version_at` of each of `ids` that is stored.
pub async fn versions(
    conn: &mut PgConnection,
    resource: Resource,
    ids: &[String],
) -> Result<HashMap<String, DateTime<Utc>>, sqlx::Error> {
    let sql = format!(
        "SELECT id, version_at FROM {} WHERE id = ANY($1)",
        resource.table()
    );
    let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The stored object `id`, locked until the end of the transaction so that the audit's
/// "before" is the version the repair replaced.
pub async fn lock(
    conn: &mut PgConnection,
    resource: Resource,
    id: &str,
) -> Result<Option<Value>, sqlx::Error> {
    let sql = format!(
        "SELECT raw FROM {} WHERE id = $1 FOR UPDATE",
        resource.table()
    );
    let row: Option<(Value,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(raw,)| raw))
}

/// Ids of the live (not deleted) customers tollgate knows.
pub async fn live_customer_ids(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM customers WHERE deleted_at IS NULL ORDER BY id")
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Ids of the stored subscriptions in one of `statuses` whose customer is live.
pub async fn subscription_ids_in(
    conn: &mut PgConnection,
    statuses: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    let statuses: Vec<String> = statuses.iter().map(|s| (*s).to_owned()).collect();
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT s.id FROM subscriptions s
         LEFT JOIN customers c ON c.id = s.customer_id
         WHERE s.status = ANY($1) AND c.deleted_at IS NULL
         ORDER BY s.id",
    )
    .bind(&statuses)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
