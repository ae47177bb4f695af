//! One batch of deliveries:
//!
//! 1. claim them with `FOR UPDATE SKIP LOCKED`, so a delivery is applied by one transaction at
//!    a time (lanes, the poll, other replicas);
//! 2. apply every event in that transaction and rebuild each affected customer's snapshot
//!    once, mark the deliveries done and commit — or, when anything fails, roll the batch back
//!    and apply its deliveries one by one, so a delivery that cannot be applied is marked
//!    `failed` (and retried with backoff by [`super::retry`]) without holding up
//!    the others.
//!
//! A crash loses nothing: claimed deliveries stay `pending` until their batch commits.

use super::apply::{self, Affected, ApplyError};
use crate::clock::Clock;
use crate::db::{
    self,
    webhook_events::{Backlog, Status},
};
use crate::error::error_chain;
use crate::polar::Event;
use chrono::{DateTime, Utc};
use sqlx::{Connection as _, PgConnection, PgPool, Postgres, Transaction};
use std::collections::HashSet;
use tollgate_gate::Catalog;

/// Most deliveries applied in one transaction.
pub(crate) const BATCH: usize = 256;

/// A stored delivery waiting in a lane.
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) id: i64,
    pub(crate) event: Event,
}

/// Applies the queued deliveries that are still pending (the poll may have applied some);
/// returns how many it applied.
pub(super) async fn apply_queued(
    pool: &PgPool,
    catalog: &Catalog,
    clock: &Clock,
    queued: Vec<Queued>,
) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = queued.iter().map(|q| q.id).collect();
    let claimed: HashSet<i64> = db::webhook_events::claim_pending_ids(&mut tx, &ids)
        .await?
        .into_iter()
        .collect();
    let queued = queued
        .into_iter()
        .filter(|q| claimed.contains(&q.id))
        .collect();
    apply_claimed(tx, pool, catalog, clock, queued).await
}

/// Applies up to a batch of the oldest deliveries of `backlog`; returns how many it applied.
pub(super) async fn apply_backlog(
    pool: &PgPool,
    catalog: &Catalog,
    clock: &Clock,
    backlog: Backlog,
) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let claimed = db::webhook_events::claim_pending(&mut tx, backlog, BATCH as i64).await?;
    let mut queued = Vec::with_capacity(claimed.len());
    for (id, payload) in claimed {
        match Event::parse(payload.as_bytes()) {
            Ok(event) => queued.push(Queued { id, event }),
            Err(error) => db::webhook_events::mark_failed(&mut tx, id, &error.to_string()).await?,
        }
    }
    apply_claimed(tx, pool, catalog, clock, queued).await
}

/// Applies claimed deliveries in the claiming transaction `tx`, or, when that fails, rolls it
/// back and applies them one by one.
async fn apply_claimed(
    mut tx: Transaction<'static, Postgres>,
    pool: &PgPool,
    catalog: &Catalog,
    clock: &Clock,
    queued: Vec<Queued>,
) -> Result<usize, sqlx::Error> {
    if queued.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    match apply_all(&mut tx, catalog, &queued, clock.now()).await {
        Ok(statuses) => {
            tx.commit().await?;
            for (Queued { event, .. }, status) in queued.iter().zip(statuses) {
                crate::metrics::webhook_applied(
                    &event.event_type,
                    status.as_str(),
                    lag(event, clock),
                );
            }
        }
        Err(error) => {
            tx.rollback().await?;
            tracing::info!(
                deliveries = queued.len(),
                error = %error_chain(&error),
                "a batch of webhooks failed; applying them one by one"
            );
            for Queued { id, .. } in &queued {
                apply_pending(pool, catalog, *id, clock.now()).await?;
            }
        }
    }
    Ok(queued.len())
}

/// How long ago Polar sent `event` (its envelope's `timestamp`).
fn lag(event: &Event, clock: &Clock) -> Option<std::time::Duration> {
    (clock.now() - event.timestamp?).to_std().ok()
}

/// Applies every claimed delivery, rebuilds the affected snapshots once and marks the
/// deliveries done, all in the caller's transaction; returns each delivery's status.
async fn apply_all(
    conn: &mut PgConnection,
    catalog: &Catalog,
    queued: &[Queued],
    now: DateTime<Utc>,
) -> Result<Vec<Status>, ApplyError> {
    let mut affected = Affected::default();
    let mut done = Vec::with_capacity(queued.len());
    for Queued { id, event } in queued {
        let status = apply::apply(conn, event, &mut affected).await?;
        done.push((*id, status));
    }
    affected.rebuild(conn, catalog, now).await?;
    db::webhook_events::mark_done_many(conn, &done).await?;
    Ok(done.into_iter().map(|(_, status)| status).collect())
}

/// Applies the pending delivery `id` on its own, if no one else has meanwhile.
async fn apply_pending(
    pool: &PgPool,
    catalog: &Catalog,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(payload) = db::webhook_events::claim_pending_by_id(&mut tx, id).await? {
        apply_stored(&mut tx, catalog, id, &payload, now).await?;
    }
    tx.commit().await
}

/// Applies the stored delivery `id` (first attempts that failed in a batch, retries, replays)
/// inside a savepoint of the caller's transaction, and records its new status: `Failed` when
/// it could not be applied (it will be retried).
pub(super) async fn apply_stored(
    conn: &mut PgConnection,
    catalog: &Catalog,
    id: i64,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<Status, sqlx::Error> {
    let event = match Event::parse(payload.as_bytes()) {
        Ok(event) => event,
        Err(error) => {
            db::webhook_events::mark_failed(conn, id, &error.to_string()).await?;
            return Ok(Status::Failed);
        }
    };
    let mut savepoint = conn.begin().await?;
    match apply::apply_and_rebuild(&mut savepoint, catalog, &event, now).await {
        Ok(status) => {
            savepoint.commit().await?;
            db::webhook_events::mark_done(conn, id, status).await?;
            let lag = event.timestamp.and_then(|sent| (now - sent).to_std().ok());
            crate::metrics::webhook_applied(&event.event_type, status.as_str(), lag);
            Ok(status)
        }
        Err(error) => {
            savepoint.rollback().await?;
            let message = error_chain(&error);
            tracing::warn!(event_id = id, error = %message, "applying a webhook failed; will retry");
            db::webhook_events::mark_failed(conn, id, &message).await?;
            crate::metrics::webhook_failed(&event.event_type);
            Ok(Status::Failed)
        }
    }
}
