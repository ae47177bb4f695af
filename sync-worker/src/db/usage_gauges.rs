//! `usage_gauges`: the levels the app reports, one per (customer, gauge feature).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// The levels of every one of `customers`, as (customer, feature, level).
pub(crate) async fn levels(
    conn: &mut PgConnection,
    customers: &[&str],
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT customer, feature, level FROM usage_gauges WHERE customer = ANY($1)")
        .bind(customers)
        .fetch_all(conn)
        .await
}

/// Sets `customer`'s levels of `features` (pairwise with `levels`).
pub(crate) async fn set(
    conn: &mut PgConnection,
    customer: &str,
    features: &[&str],
    levels: &[i64],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO usage_gauges (customer, feature, level, updated_at)
         SELECT $1, feature, level, $4 FROM unnest($2::text[], $3::bigint[]) AS g(feature, level)
         ON CONFLICT (customer, feature) DO UPDATE
             SET level = excluded.level, updated_at = excluded.updated_at",
    )
    .bind(customer)
    .bind(features)
    .bind(levels)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every customer's level of the gauge `feature`, by customer.
pub(crate) async fn levels_of_feature(
    conn: &mut PgConnection,
    feature: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT customer, level FROM usage_gauges WHERE feature = $1 AND level > 0
         ORDER BY customer",
    )
    .bind(feature)
    .fetch_all(conn)
    .await
}
