//! Background jobs. Each exposes `run_once`, which tests and the CLI call directly, and the
//! service runs on a timer ([`scheduler`] for the scheduled ones).

pub mod cleanup;
pub mod full_reconcile;
pub mod health_check;
pub mod lease_expiry;
pub mod order_sync;
pub mod scheduler;
pub mod subscription_ending;
pub mod subscription_sync;
pub mod usage_cleanup;
pub mod usage_freshness;
pub mod usage_processing;
pub mod usage_report;

use crate::clock::Clock;
use crate::polar_client::PolarClient;
use crate::reconcile::Reconciler;
use chrono::NaiveTime;
use scheduler::{Cadence, Finished, Job};
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use tollgate_gate::Catalog;

/// What jobs run against.
#[derive(Debug, Clone)]
pub struct Deps {
    pub pool: PgPool,
    pub catalog: Arc<Catalog>,
    /// `None` when no Polar organization token is configured: jobs that need Polar skip.
    pub polar: Option<PolarClient>,
    pub clock: Clock,
}

impl Deps {
    /// What the usage jobs run against.
    pub(crate) fn usage(&self) -> crate::usage::Deps {
        crate::usage::Deps {
            pool: self.pool.clone(),
            catalog: Arc::clone(&self.catalog),
            polar: self.polar.clone(),
        }
    }

    /// A reconciler, when Polar is configured.
    pub fn reconciler(&self) -> Option<Reconciler> {
        self.polar.as_ref().map(|polar| Reconciler {
            pool: self.pool.clone(),
            catalog: Arc::clone(&self.catalog),
            polar: polar.clone(),
        })
    }
}

/// The seed's schedule (docs/design.md, "The sync worker's duties" §5): usage processing every 5
/// minutes, health check every 10 minutes, order sync every 30 minutes, subscription sync every
/// 6 hours, full reconcile daily at 02:00 UTC, cleanup and usage cleanup weekly (Sunday 03:00
/// UTC), the monthly usage report on the 1st at 00:00 UTC.
///
/// A new job registers here as `Job::new(NAME, Cadence::…, |deps, now| Box::pin(…))` around
/// its `run_once`.
/// Sub-minute loops (webhook retries, usage freshness) are not ticks: the service runs them on
/// their own timers.
pub(crate) fn schedule() -> Vec<Job> {
    let at = |hour| NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN);
    vec![
        Job::new(usage_processing::NAME, Cadence::minutes(5), |deps, now| {
            Box::pin(async move {
                let processed = usage_processing::run_once(&deps.usage(), now).await?;
                Ok(Finished::Succeeded(json!({
                    "snapshots_rebuilt": processed.snapshots_rebuilt,
                    "overage_sent": processed.overage.sent,
                    "overage_failed": processed.overage.failed,
                })))
            })
        }),
        Job::new(lease_expiry::NAME, Cadence::minutes(1), |deps, now| {
            Box::pin(lease_expiry::run_once(deps, now))
        }),
        Job::new(health_check::NAME, Cadence::minutes(10), |deps, now| {
            Box::pin(health_check::run_once(deps, now))
        }),
        Job::new(order_sync::NAME, Cadence::minutes(30), |deps, now| {
            Box::pin(order_sync::run_once(deps, now))
        }),
        Job::new(subscription_ending::NAME, Cadence::hours(1), |deps, now| {
            Box::pin(subscription_ending::run_once(deps, now))
        }),
        Job::new(subscription_sync::NAME, Cadence::hours(6), |deps, now| {
            Box::pin(subscription_sync::run_once(deps, now))
        }),
        Job::new(full_reconcile::NAME, Cadence::Daily(at(2)), |deps, now| {
            Box::pin(full_reconcile::run_once(deps, now))
        }),
        Job::new(
            cleanup::NAME,
            Cadence::Weekly(chrono::Weekday::Sun, at(3)),
            |deps, now| Box::pin(cleanup::run_once(deps, now)),
        ),
        Job::new(
            usage_cleanup::NAME,
            Cadence::Weekly(chrono::Weekday::Sun, at(3)),
            |deps, now| {
                Box::pin(async move {
                    let removed = usage_cleanup::run_once(&deps.usage(), now).await?;
                    Ok(Finished::Succeeded(json!({ "removed": removed })))
                })
            },
        ),
        Job::new(
            usage_report::NAME,
            Cadence::Monthly(1, at(0)),
            |deps, now| Box::pin(usage_report::run_once(deps, now)),
        ),
    ]
}
