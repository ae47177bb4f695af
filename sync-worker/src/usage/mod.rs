//! Usage: metered events counted exactly once, gauge levels, consumption under a limit, and the
//! overage that Polar bills.
//!
//! - [`ingest`]: batches of events de-duplicated by (customer, event id) and added to
//!   per-period counters in the same transaction (`POST /v1/usage`).
//! - [`gauges`]: levels the app sets (`PUT /v1/gauges/{customer}`).
//! - [`consume`]: check and count in one step under the counter's row lock, so concurrent
//!   callers never push a `block` feature past its limit (`POST /v1/check` with `consume`).
//! - [`overage`]: units beyond the limit of a `bill` feature, queued in an outbox and sent to
//!   Polar's event ingestion once.
//! - [`counts`]: what the snapshot builder reads — the counts of the periods current at `now`.
//! - [`report`], [`retention`]: the monthly CSV and the expiry of old de-duplication keys.
//!
//! Every change of usage marks the customer's snapshot as lagging
//! (`db::metered_customers`); the snapshot module's freshness rebuilds it.
//!
//! Periods, limits, overage and soft limits are the engine's (`tollgate_gate`): this module
//! builds the customer's snapshot and reads them from it, it never re-derives a rule.

pub(crate) mod consume;
pub(crate) mod counts;
pub mod event;
pub(crate) mod gauges;
pub mod ingest;
pub(crate) mod levels;
pub(crate) mod overage;
pub(crate) mod report;
pub(crate) mod retention;

use crate::polar_client::PolarError;
use chrono::{DateTime, Utc};
use tollgate_gate::Timestamp;

/// Why a usage operation failed (not a refusal of the caller's input: those are answers).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("a snapshot built by the engine does not compile: {0}")]
    Gate(#[from] tollgate_gate::SnapshotError),
    #[error(transparent)]
    Polar(#[from] PolarError),
    #[error("a decision could not be serialised: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// The engine's instants as the database stores them.
pub(crate) fn to_datetime(at: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.as_millis()).unwrap_or_default()
}

/// What the usage jobs need.
#[derive(Debug, Clone)]
pub struct Deps {
    pub pool: sqlx::PgPool,
    pub catalog: std::sync::Arc<tollgate_gate::Catalog>,
    /// Polar's API, for overage; `None` when no organization token is configured, and then
    /// overage waits in the outbox.
    pub polar: Option<crate::polar_client::PolarClient>,
}
