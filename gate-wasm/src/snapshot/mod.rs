//! The snapshot: everything the edge needs to decide for one customer, as one JSON document.
//!
//! A snapshot is built by the sync worker (`build_snapshot`), stored in Workers KV under
//! `ent:v1:<customer>`, and compiled by `Gate::new`. It carries the facts the time rules need
//! rather than a verdict, so a snapshot keeps answering correctly as `now` moves past a period
//! end, a grace period or a grant's expiry — while KV propagates, or the sync worker is down.
//! Fields named "at issue" describe the state at `issued_at` for human readers; `check` reads
//! the facts.

mod build;
mod subscriptions;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use build::build_snapshot;
pub(crate) use subscriptions::kept_subscriptions;

use crate::account::GrantAmount;
use crate::catalog::{FeatureType, OnStale, PlanLimit, Reset};
use crate::polar::{Interval, SubscriptionStatus};
use crate::quantity::Allowance;
use crate::time::Timestamp;

/// The snapshot format version. A reader refuses a version it does not know.
pub const SCHEMA: u32 = 1;

/// One customer's entitlements, ready to be checked anywhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema: u32,
    pub customer: String,
    /// Only grows: a store keeps the snapshot with the highest revision.
    pub revision: u64,
    pub issued_at: Timestamp,
    /// From this instant on, decisions say `stale: true` and follow each feature's `on_stale`.
    pub stale_after: Timestamp,
    /// The plan at issue.
    pub plan: PlanRef,
    pub default_plan: String,
    /// Every plan of the catalog, lowest rank first (for upgrade hints).
    pub plans: Vec<SnapshotPlan>,
    /// Subscriptions that entitle at issue or stopped entitling in the 30 days before.
    pub subscriptions: Vec<SnapshotSubscription>,
    pub features: BTreeMap<String, SnapshotFeature>,
    #[serde(default)]
    pub warnings: Vec<SnapshotWarning>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRef {
    pub key: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotPlan {
    pub key: String,
    pub name: String,
    pub rank: i64,
}

/// The facts of one Polar subscription that the status rules read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotSubscription {
    pub id: String,
    /// The plan its product selects; `None` for a product no plan claims.
    pub plan: Option<String>,
    pub product_id: String,
    pub status: SubscriptionStatus,
    pub current_period_start: Timestamp,
    pub current_period_end: Option<Timestamp>,
    pub recurring_interval: Interval,
    pub recurring_interval_count: u32,
    pub cancel_at_period_end: bool,
    /// `past_due`: the end of the grace period (`current_period_end + grace_days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_ends_at: Option<Timestamp>,
    /// `canceled`, `unpaid`: when it stopped entitling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// The seats of a seat-based subscription: the limit of features its plan sets to `"seats"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<u64>,
}

/// One feature: its definition, what each plan allows, grants and usage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotFeature {
    #[serde(rename = "type")]
    pub kind: FeatureType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<Reset>,
    #[serde(default)]
    pub on_stale: OnStale,
    /// The limit at issue, grants included; `null` when not in the plan.
    pub limit: Option<Allowance>,
    /// Gauge level, or the metered count of the period current at issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<u64>,
    /// Metered: the period current at issue. `used` counts until `resets_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_start: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<Timestamp>,
    /// What each plan that includes this feature allows, by plan key.
    pub plans: BTreeMap<String, PlanLimit>,
    /// Grants in force at issue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<SnapshotGrant>,
    /// Present exactly when the feature is exact (catalog `exact = true`): the units the edge
    /// leases from the sync worker at a time, sized at issue (`Feature::lease_for`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotGrant {
    pub amount: GrantAmount,
    pub expires_at: Option<Timestamp>,
}

/// Something the operator should look at; never a reason to refuse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotWarning {
    pub code: String,
    pub message: String,
}

/// A snapshot that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error("the snapshot is not valid JSON of the snapshot schema: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("snapshot schema {found} is not supported (this engine reads schema {SCHEMA})")]
    UnsupportedSchema { found: u32 },
    #[error("the snapshot names plan `{0}`, which is not in its `plans`")]
    UnknownPlan(String),
}

impl SnapshotError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SnapshotError::Malformed(_) => "invalid_snapshot",
            SnapshotError::UnsupportedSchema { .. } => "unsupported_schema",
            SnapshotError::UnknownPlan(_) => "invalid_snapshot",
        }
    }
}

impl Snapshot {
    pub fn from_json(json: &str) -> Result<Snapshot, SnapshotError> {
        Ok(serde_json::from_str(json)?)
    }

    /// Whether two snapshots say the same thing, whenever and however often they were issued.
    pub fn same_entitlements(&self, other: &Snapshot) -> bool {
        // Destructured so that a new field has to be placed on one side or the other.
        let Snapshot {
            schema,
            customer,
            revision: _,
            issued_at: _,
            stale_after: _,
            plan,
            default_plan,
            plans,
            subscriptions,
            features,
            warnings,
        } = self;
        *schema == other.schema
            && *customer == other.customer
            && *plan == other.plan
            && *default_plan == other.default_plan
            && *plans == other.plans
            && *subscriptions == other.subscriptions
            && *features == other.features
            && *warnings == other.warnings
    }
}
