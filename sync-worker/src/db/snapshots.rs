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

/// Serialises snapshot rebuilds of `customers` until the end of the current transaction, so
/// two concurrent rebuilds cannot both claim a customer's next revision. The locks are taken
/// in the order given: callers pass customers sorted, so that two transactions locking
/// overlapping sets cannot deadlock.
pub(crate) async fn lock(conn: &mut PgConnection, customers: &[&str]) -> Result<(), sqlx::Error> {
    sqlx::query(
        // `unnest` yields the elements in array order, so the locks are taken in that order.
        "SELECT pg_advisory_xact_lock(hashtextextended('tollgate.snapshot:' || customer, 0))
         FROM unnest($1::text[]) AS c(customer)",
    )
    .bind(customers)
    .execute(conn)
    .await?;
    Ok(())
}

/// The current revision and snapshot (as JSON text) of each of `customers`, in the order
/// given; `None` for a customer without one. Call it with the customers' locks held, so that
/// their current revisions cannot move before the insert.
pub(crate) async fn current_many(
    conn: &mut PgConnection,
    customers: &[&str],
) -> Result<Vec<Option<(i64, String)>>, sqlx::Error> {
    let rows: Vec<(Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT current.revision, current.snapshot::text
         FROM unnest($1::text[]) WITH ORDINALITY AS wanted(customer, n)
         LEFT JOIN LATERAL (
             SELECT revision, snapshot FROM entitlement_snapshots
             WHERE customer = wanted.customer ORDER BY revision DESC LIMIT 1
         ) AS current ON true
         ORDER BY wanted.n",
    )
    .bind(customers)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(revision, snapshot)| revision.zip(snapshot))
        .collect())
}

/// A snapshot revision to store.
#[derive(Debug)]
pub(crate) struct NewRevision {
    pub(crate) customer: String,
    pub(crate) revision: i64,
    /// The snapshot, serialised.
    pub(crate) snapshot: String,
}

/// Stores every new revision and queues each for publication, in one statement.
pub(crate) async fn insert_and_enqueue(
    conn: &mut PgConnection,
    revisions: &[NewRevision],
) -> Result<(), sqlx::Error> {
    if revisions.is_empty() {
        return Ok(());
    }
    let customers: Vec<&str> = revisions.iter().map(|r| r.customer.as_str()).collect();
    let numbers: Vec<i64> = revisions.iter().map(|r| r.revision).collect();
    let snapshots: Vec<&str> = revisions.iter().map(|r| r.snapshot.as_str()).collect();
    sqlx::query(
        "WITH stored AS (
             INSERT INTO entitlement_snapshots (customer, revision, snapshot)
             SELECT customer, revision, snapshot::jsonb
             FROM unnest($1::text[], $2::bigint[], $3::text[]) AS r(customer, revision, snapshot)
             RETURNING customer, revision)
         INSERT INTO publish_outbox (customer, revision) SELECT customer, revision FROM stored",
    )
    .bind(&customers)
    .bind(&numbers)
    .bind(&snapshots)
    .execute(conn)
    .await?;
    Ok(())
}

/// The snapshots of the given (customer, revision) pairs, by customer.
pub(crate) async fn revisions(
    conn: &mut PgConnection,
    customers: &[&str],
    revisions: &[i64],
) -> Result<Vec<(String, i64, Value)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.customer, s.revision, s.snapshot
         FROM entitlement_snapshots s
         JOIN unnest($1::text[], $2::bigint[]) AS w(customer, revision)
           ON s.customer = w.customer AND s.revision = w.revision
         ORDER BY s.customer",
    )
    .bind(customers)
    .bind(revisions)
    .fetch_all(conn)
    .await
}
