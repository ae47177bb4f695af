//! Usage processing: snapshots that lag their usage are rebuilt, and billed overage is sent to
//! Polar.
//!
//! Requests rebuild their customers' snapshots themselves and the freshness job catches the
//! ones a coalescing window held back; this pass is the backstop for both, and the sender of
//! the overage outbox (rows claimed with `FOR UPDATE SKIP LOCKED`, so replicas share it).

use chrono::{DateTime, Utc};

use crate::snapshot::freshness;
use crate::usage::{Deps, overage};

pub(crate) const NAME: &str = "usage_processing";

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Processed {
    pub snapshots_rebuilt: usize,
    pub overage: overage::Sent,
}

pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> anyhow::Result<Processed> {
    let snapshots_rebuilt = freshness::refresh_due(&deps.pool, &deps.catalog, now).await?;
    let overage = match &deps.polar {
        Some(polar) => overage::send_due(&deps.pool, polar, now).await?,
        None => overage::Sent::default(),
    };
    if snapshots_rebuilt > 0 || overage != overage::Sent::default() {
        tracing::info!(
            snapshots_rebuilt,
            overage_sent = overage.sent,
            overage_failed = overage.failed,
            "usage processed"
        );
    }
    Ok(Processed {
        snapshots_rebuilt,
        overage,
    })
}
