//! Retries webhook deliveries whose apply failed, once their backoff has elapsed.
//!
//! Each delivery is claimed in its own transaction with `FOR UPDATE SKIP LOCKED`, so replicas
//! running this job at the same time never apply one delivery twice at once, and a delivery
//! that keeps failing only delays itself.

use super::batch;
use crate::error::error_chain;
use crate::{clock::Clock, db};
use sqlx::PgPool;
use std::time::Duration;
use tollgate_gate::Catalog;

/// How often the service looks for due retries.
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);

/// Retries every due delivery once; returns how many were attempted.
pub async fn run_once(
    pool: &PgPool,
    catalog: &Catalog,
    clock: &Clock,
) -> Result<usize, sqlx::Error> {
    let mut attempted = 0;
    loop {
        let mut tx = pool.begin().await?;
        let Some((id, payload)) = db::webhook_events::claim_due(&mut tx).await? else {
            tx.commit().await?;
            return Ok(attempted);
        };
        attempted += 1;
        let status = batch::apply_stored(&mut tx, catalog, id, &payload, clock.now()).await?;
        tx.commit().await?;
        tracing::info!(event_id = id, status = status.as_str(), "retried a webhook");
    }
}

/// Runs [`run_once`] every [`INTERVAL`] until the task is dropped.
pub(crate) async fn run_forever(pool: PgPool, catalog: std::sync::Arc<Catalog>, clock: Clock) {
    let (pool, catalog, clock) = (&pool, &catalog, &clock);
    crate::pace::every(INTERVAL, move || async move {
        if let Err(error) = run_once(pool, catalog, clock).await {
            tracing::warn!(error = %error_chain(&error), "webhook retry pass failed");
        }
    })
    .await
}
