//! `entitlement_snapshots`: every revision of every customer's snapshot.

use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use tollgate_gate::polar::Subscription;

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
pub async fn lock(conn: &mut PgConnection, customers: &[&str]) -> Result<(), sqlx::Error> {
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

/// What a snapshot rebuild reads about one customer.
#[derive(Debug)]
pub struct Stored {
    pub customer: String,
    /// The live customers' subscriptions, each with the newest stored version of its product.
    pub subscriptions: Vec<Subscription>,
    /// The raw benefit grants they hold (granted, not revoked).
    pub grants: Vec<Value>,
    /// The current snapshot's revision and JSON, if there is one.
    pub revision: Option<i64>,
    pub snapshot: Option<String>,
}

type StoredRow = (
    String,
    Json<Vec<Subscription>>,
    Json<Vec<Value>>,
    Option<i64>,
    Option<String>,
);

/// Reads everything [`Stored`] holds about each of `customers` in one round trip, in the
/// order given. Call it with the customers' locks held, so that their current revisions
/// cannot move before the insert.
pub async fn load(conn: &mut PgConnection, customers: &[&str]) -> Result<Vec<Stored>, sqlx::Error> {
    let rows: Vec<StoredRow> = sqlx::query_as(
        "SELECT
             wanted.customer,
             (SELECT coalesce(jsonb_agg(CASE WHEN p.raw IS NULL THEN s.raw
                                             ELSE s.raw || jsonb_build_object('product', p.raw)
                                        END ORDER BY s.id), '[]'::jsonb)
              FROM subscriptions s
              JOIN customers c ON c.id = s.customer_id
              LEFT JOIN products p ON p.id = s.product_id
              WHERE c.external_id = wanted.customer AND c.deleted_at IS NULL),
             (SELECT coalesce(jsonb_agg(g.raw ORDER BY g.id), '[]'::jsonb)
              FROM benefit_grants g JOIN customers c ON c.id = g.customer_id
              WHERE c.external_id = wanted.customer AND c.deleted_at IS NULL
                AND g.is_granted AND NOT g.is_revoked),
             current.revision,
             current.snapshot::text
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
        .map(
            |(customer, subscriptions, grants, revision, snapshot)| Stored {
                customer,
                subscriptions: subscriptions.0,
                grants: grants.0,
                revision,
                snapshot,
            },
        )
        .collect())
}

/// A snapshot revision to store.
#[derive(Debug)]
pub struct NewRevision {
    pub customer: String,
    pub revision: i64,
    /// The snapshot, serialised.
    pub snapshot: String,
}

/// Stores every new revision and queues each for publication, in one statement.
pub async fn insert_and_enqueue(
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
