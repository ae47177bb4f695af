//! `entitlement_snapshots`: every revision of every customer's snapshot.

use serde_json::Value;
use sqlx::PgConnection;

/// The current (highest) revision of `customer`'s snapshot and the snapshot itself.
pub async fn current(
    conn: &mut PgConnection,
    customer: &str,
) -> Result<Option<(i64, Value)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT revision, snapshot FROM entitlement_snapshots
         WHERE customer = $1 ORDER BY revision DESC LIMIT 1",
    )
    .bind(customer)
    .fetch_optional(conn)
    .await
}

pub async fn insert(
    conn: &mut PgConnection,
    customer: &str,
    revision: i64,
    snapshot: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO entitlement_snapshots (customer, revision, snapshot) VALUES ($1, $2, $3)",
    )
    .bind(customer)
    .bind(revision)
    .bind(snapshot)
    .execute(conn)
    .await?;
    Ok(())
}

/// Serialises snapshot rebuilds of one customer until the end of the current transaction, so
/// two concurrent rebuilds cannot both claim the next revision.
pub async fn lock(conn: &mut PgConnection, customer: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('tollgate.snapshot:' || $1, 0))")
        .bind(customer)
        .execute(conn)
        .await?;
    Ok(())
}
