//! `entitlement_snapshots`: every revision of every customer's snapshot.

use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use tollgate_gate::Snapshot;
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

/// Serialises snapshot rebuilds of one customer until the end of the current transaction, so
/// two concurrent rebuilds cannot both claim the next revision.
pub async fn lock(conn: &mut PgConnection, customer: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('tollgate.snapshot:' || $1, 0))")
        .bind(customer)
        .execute(conn)
        .await?;
    Ok(())
}

/// What a snapshot rebuild reads about one customer.
#[derive(Debug)]
pub struct Stored {
    /// The live customers' subscriptions, each with the newest stored version of its product.
    pub subscriptions: Vec<Subscription>,
    /// The raw benefit grants they hold (granted, not revoked).
    pub grants: Vec<Value>,
    /// The current snapshot's revision and JSON, if there is one.
    pub revision: Option<i64>,
    pub snapshot: Option<String>,
}

type StoredRow = (
    Json<Vec<Subscription>>,
    Json<Vec<Value>>,
    Option<i64>,
    Option<String>,
);

/// Reads everything [`Stored`] holds about `customer` in one round trip. Call it with the
/// customer's lock held, so that the current revision cannot move before the insert.
pub async fn load(conn: &mut PgConnection, customer: &str) -> Result<Stored, sqlx::Error> {
    let (subscriptions, grants, revision, snapshot): StoredRow = sqlx::query_as(
        "SELECT
             (SELECT coalesce(jsonb_agg(CASE WHEN p.raw IS NULL THEN s.raw
                                             ELSE s.raw || jsonb_build_object('product', p.raw)
                                        END ORDER BY s.id), '[]'::jsonb)
              FROM subscriptions s
              JOIN customers c ON c.id = s.customer_id
              LEFT JOIN products p ON p.id = s.product_id
              WHERE c.external_id = $1 AND c.deleted_at IS NULL),
             (SELECT coalesce(jsonb_agg(g.raw ORDER BY g.id), '[]'::jsonb)
              FROM benefit_grants g JOIN customers c ON c.id = g.customer_id
              WHERE c.external_id = $1 AND c.deleted_at IS NULL
                AND g.is_granted AND NOT g.is_revoked),
             current.revision,
             current.snapshot::text
         FROM (SELECT 1) AS one
         LEFT JOIN LATERAL (
             SELECT revision, snapshot FROM entitlement_snapshots
             WHERE customer = $1 ORDER BY revision DESC LIMIT 1
         ) AS current ON true",
    )
    .bind(customer)
    .fetch_one(conn)
    .await?;
    Ok(Stored {
        subscriptions: subscriptions.0,
        grants: grants.0,
        revision,
        snapshot,
    })
}

/// Stores `customer`'s snapshot `revision` and queues it for publication, in one statement.
pub async fn insert_and_enqueue(
    conn: &mut PgConnection,
    customer: &str,
    revision: i64,
    snapshot: &Snapshot,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH stored AS (
             INSERT INTO entitlement_snapshots (customer, revision, snapshot)
             VALUES ($1, $2, $3)
             RETURNING customer, revision)
         INSERT INTO publish_outbox (customer, revision) SELECT customer, revision FROM stored",
    )
    .bind(customer)
    .bind(revision)
    .bind(Json(snapshot))
    .execute(conn)
    .await?;
    Ok(())
}
