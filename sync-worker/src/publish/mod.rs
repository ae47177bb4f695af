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
//! API keys ride along: `api_key_outbox` rows (a put of `key:v1:<sha256>` → customer, or its
//! deletion) are claimed in the same pass, coalesced per key to the latest, and sent in the
//! same request to the edge sink, or as Cloudflare bulk puts and a bulk delete.
//!
//! Sending before marking means a crash in between re-sends the same revisions: harmless, since
//! a store keeps the highest revision (the edge endpoint checks it; Cloudflare's bulk write is
//! an idempotent put of the same value).

mod cloudflare;
mod edge;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::db::{
    self,
    publish_outbox::{self, Due, Outbox},
};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

pub use cloudflare::{CLOUDFLARE_API, CloudflareSink};
pub(crate) use edge::EdgeSink;

/// The most snapshots one publish request carries (both sinks accept 10 000).
pub(crate) const BATCH: i64 = 10_000;
/// The pause between publishing passes: at most one write per KV key per second.
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);

/// A snapshot as published: its KV key and the exact JSON the engine produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) customer: String,
    pub(crate) revision: i64,
    pub(crate) snapshot: Value,
}

impl Entry {
    /// The KV key of the design's layout (docs/design.md, "KV layout").
    pub(crate) fn key(&self) -> String {
        format!("ent:v1:{}", self.customer)
    }
}

/// An API key's KV entry as published: put (`customer` set) or delete (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyWrite {
    pub(crate) hash: String,
    pub(crate) customer: Option<String>,
}

impl KeyWrite {
    /// The KV key of the design's layout (docs/design.md, "KV layout").
    pub(crate) fn key(&self) -> String {
        format!("key:v1:{}", self.hash)
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
pub(crate) struct SinkError {
    pub(crate) sink: &'static str,
    pub(crate) message: String,
}

impl Sink {
    async fn send(&self, entries: &[Entry], keys: &[KeyWrite]) -> Result<(), SinkError> {
        match self {
            Sink::Cloudflare(sink) => sink.send(entries, keys).await,
            Sink::Edge(sink) => sink.send(entries, keys).await,
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
    if !publish_outbox::try_lock_publisher(&mut tx).await? {
        return Ok(Pass::default());
    }
    let claimed = publish_outbox::claim(&mut tx, BATCH).await?;
    let claimed_keys = db::api_key_outbox::claim(&mut tx, BATCH).await?;
    if claimed.is_empty() && claimed_keys.is_empty() {
        return Ok(Pass::default());
    }
    let ids: Vec<i64> = claimed.iter().map(|row| row.id).collect();
    let key_ids: Vec<i64> = claimed_keys.iter().map(|row| row.id).collect();
    let entries = latest_per_customer(&mut tx, &claimed).await?;
    let keys = latest_per_key(claimed_keys);
    let started = std::time::Instant::now();
    let sent = sink.send(&entries, &keys).await;
    crate::metrics::published(started.elapsed(), entries.len() + keys.len(), sent.is_ok());
    let pass = match sent {
        Ok(()) => {
            publish_outbox::mark_published(&mut tx, Outbox::Snapshots, &ids).await?;
            publish_outbox::mark_published(&mut tx, Outbox::ApiKeys, &key_ids).await?;
            Pass {
                rows: ids.len() + key_ids.len(),
                written: entries.len() + keys.len(),
                deferred: 0,
            }
        }
        Err(error) => {
            tracing::warn!(error = %error, rows = ids.len() + key_ids.len(), "publishing snapshots failed; will retry");
            publish_outbox::mark_failed(&mut tx, Outbox::Snapshots, &ids, &error.to_string())
                .await?;
            publish_outbox::mark_failed(&mut tx, Outbox::ApiKeys, &key_ids, &error.to_string())
                .await?;
            Pass {
                rows: 0,
                written: 0,
                deferred: ids.len() + key_ids.len(),
            }
        }
    };
    tx.commit().await?;
    Ok(pass)
}

/// Runs [`run_once`] every [`INTERVAL`] until the task is dropped.
pub(crate) async fn run_forever(pool: PgPool, sink: Sink) {
    let (pool, sink) = (&pool, &sink);
    crate::pace::every(INTERVAL, move || async move {
        match run_once(pool, sink).await {
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
    })
    .await
}

/// The latest claimed write of each key (rows come in id order: the last one wins).
fn latest_per_key(claimed: Vec<db::api_key_outbox::Due>) -> Vec<KeyWrite> {
    let mut latest: BTreeMap<String, Option<String>> = BTreeMap::new();
    for row in claimed {
        latest.insert(row.key_sha256, row.customer);
    }
    latest
        .into_iter()
        .map(|(hash, customer)| KeyWrite { hash, customer })
        .collect()
}

/// The highest claimed revision of each customer, with its snapshot.
async fn latest_per_customer(
    conn: &mut PgConnection,
    claimed: &[Due],
) -> Result<Vec<Entry>, sqlx::Error> {
    let mut latest: BTreeMap<&str, i64> = BTreeMap::new();
    for Due {
        customer, revision, ..
    } in claimed
    {
        let entry = latest.entry(customer).or_insert(*revision);
        *entry = (*entry).max(*revision);
    }
    let (customers, revisions): (Vec<&str>, Vec<i64>) = latest.into_iter().unzip();
    let rows = db::snapshots::revisions(conn, &customers, &revisions).await?;
    Ok(rows
        .into_iter()
        .map(|(customer, revision, snapshot)| Entry {
            customer,
            revision,
            snapshot,
        })
        .collect())
}
