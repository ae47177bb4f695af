//! Publishing snapshots to Workers KV: the outbox, drained in order, coalesced per key.
//!
//! A snapshot revision is queued in `publish_outbox` in the same transaction that stores it, so
//! nothing is published that was not committed and nothing committed goes unpublished. The
//! publisher then, once a second:
//!
//! 1. takes a transaction-scoped advisory lock, so one replica publishes at a time and writes
//!    land in revision order;
//! 2. claims up to [`BATCH`] due rows in id order and keeps, per customer, only the highest
//!    revision — three changes in a second become one KV write, and no key is written more than
//!    once a second, the limit Workers KV sets;
//! 3. sends those snapshots to the sink (the edge worker's publish endpoint, or Cloudflare's
//!    bulk KV API) in one request;
//! 4. marks every claimed row published — or, when the sink failed, records the error and a
//!    later attempt time with exponential backoff. A sink outage delays publication; it loses
//!    nothing, and a row marked published was acknowledged by the sink.
//!
//! Sending before marking means a crash in between re-sends the same revisions: harmless, since
//! a store keeps the highest revision (the edge endpoint checks it; Cloudflare's bulk write is
//! an idempotent put of the same value).

mod cloudflare;
mod edge;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use sqlx::{PgConnection, PgPool};

pub use cloudflare::{CLOUDFLARE_API, CloudflareSink};
pub use edge::EdgeSink;

/// The most snapshots one publish request carries (both sinks accept 10 000).
pub const BATCH: i64 = 10_000;
/// The pause between publishing passes: at most one write per KV key per second.
pub const INTERVAL: Duration = Duration::from_secs(1);
const LOCK_KEY: &str = "tollgate.publisher";

/// A snapshot as published: its KV key and the exact JSON the engine produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub customer: String,
    pub revision: i64,
    pub snapshot: Value,
}

impl Entry {
    /// The KV key of DESIGN.md's layout.
    pub fn key(&self) -> String {
        format!("ent:v1:{}", self.customer)
    }
}

/// Where snapshots go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Cloudflare's REST bulk write (production).
    Cloudflare(CloudflareSink),
    /// The edge worker's authenticated publish endpoint (local development, tests).
    Edge(EdgeSink),
}

/// Why a sink refused or failed a batch.
#[derive(Debug, thiserror::Error)]
#[error("{sink}: {message}")]
pub struct SinkError {
    pub sink: &'static str,
    pub message: String,
}

impl Sink {
    async fn send(&self, entries: &[Entry]) -> Result<(), SinkError> {
        match self {
            Sink::Cloudflare(sink) => sink.send(entries).await,
            Sink::Edge(sink) => sink.send(entries).await,
        }
    }
}

/// What one publishing pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Outbox rows settled (published, or superseded by a later revision in the same batch).
    pub rows: usize,
    /// Snapshots written to the sink.
    pub written: usize,
    /// Rows that failed and wait for a later attempt.
    pub deferred: usize,
}

/// Publishes one batch of due outbox rows. Returns an empty pass when another replica holds the
/// publisher lock or nothing is due.
pub async fn run_once(pool: &PgPool, sink: &Sink) -> Result<Pass, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(LOCK_KEY)
            .fetch_one(&mut *tx)
            .await?;
    if !locked {
        return Ok(Pass::default());
    }
    let claimed = claim(&mut tx).await?;
    if claimed.is_empty() {
        return Ok(Pass::default());
    }
    let ids: Vec<i64> = claimed.iter().map(|row| row.0).collect();
    let entries = latest_per_customer(&mut tx, &claimed).await?;
    let pass = match sink.send(&entries).await {
        Ok(()) => {
            sqlx::query("UPDATE publish_outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1)")
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
            Pass {
                rows: ids.len(),
                written: entries.len(),
                deferred: 0,
            }
        }
        Err(error) => {
            tracing::warn!(error = %error, rows = ids.len(), "publishing snapshots failed; will retry");
            sqlx::query(
                "UPDATE publish_outbox SET attempts = attempts + 1, last_error = $2,
                     next_attempt_at = now() + least(interval '5 minutes',
                                                      interval '1 second' * power(2, least(attempts, 12)))
                 WHERE id = ANY($1)",
            )
            .bind(&ids)
            .bind(error.to_string())
            .execute(&mut *tx)
            .await?;
            Pass {
                rows: 0,
                written: 0,
                deferred: ids.len(),
            }
        }
    };
    tx.commit().await?;
    Ok(pass)
}

/// Runs [`run_once`] every [`INTERVAL`] until the task is dropped.
pub async fn run_forever(pool: PgPool, sink: Sink) {
    let mut ticker = tokio::time::interval(INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match run_once(&pool, &sink).await {
            Ok(pass) if pass.written > 0 => {
                tracing::info!(
                    written = pass.written,
                    rows = pass.rows,
                    "published snapshots"
                )
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "publishing pass failed"),
        }
    }
}

/// How far publication lags: the age of the oldest unpublished row, if any.
pub async fn lag(conn: &mut PgConnection) -> Result<Option<Duration>, sqlx::Error> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - min(created_at))::float8
         FROM publish_outbox WHERE published_at IS NULL",
    )
    .fetch_one(conn)
    .await?;
    Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

async fn claim(conn: &mut PgConnection) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, customer, revision FROM publish_outbox
         WHERE published_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= now())
         ORDER BY id
         LIMIT $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(BATCH)
    .fetch_all(conn)
    .await
}

/// The highest claimed revision of each customer, with its snapshot.
async fn latest_per_customer(
    conn: &mut PgConnection,
    claimed: &[(i64, String, i64)],
) -> Result<Vec<Entry>, sqlx::Error> {
    let mut latest: BTreeMap<&str, i64> = BTreeMap::new();
    for (_, customer, revision) in claimed {
        let entry = latest.entry(customer).or_insert(*revision);
        *entry = (*entry).max(*revision);
    }
    let (customers, revisions): (Vec<&str>, Vec<i64>) = latest.into_iter().unzip();
    let rows: Vec<(String, i64, Value)> = sqlx::query_as(
        "SELECT s.customer, s.revision, s.snapshot
         FROM entitlement_snapshots s
         JOIN unnest($1::text[], $2::bigint[]) AS w(customer, revision)
           ON s.customer = w.customer AND s.revision = w.revision
         ORDER BY s.customer",
    )
    .bind(&customers)
    .bind(&revisions)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(customer, revision, snapshot)| Entry {
            customer,
            revision,
            snapshot,
        })
        .collect())
}
