//! Failure policy: how a feature is answered when the customer's snapshot is missing from KV
//! or KV cannot be read.
//!
//! - `last_known_good` (default): decide from the snapshot this isolate last held for the
//!   customer, whatever its age; with none, refuse (`snapshot_unavailable`).
//! - `open`: allow.
//! - `closed`: refuse (`snapshot_unavailable`).
//!
//! A snapshot that is present but past its `stale_after` is judged by the engine itself, with
//! each feature's `on_stale` from the catalog, so every runtime answers stale snapshots alike.
//! Every answer names the policy that applied (`failurePolicy`, `null` when none did).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tollgate_gate::OnStale;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    Open,
    Closed,
    #[default]
    LastKnownGood,
}

impl FailurePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::LastKnownGood => "last_known_good",
        }
    }
}

/// The engine's name for the same three answers (a feature's `on_stale` in the catalog).
impl From<FailurePolicy> for OnStale {
    fn from(policy: FailurePolicy) -> Self {
        match policy {
            FailurePolicy::Open => OnStale::Open,
            FailurePolicy::Closed => OnStale::Closed,
            FailurePolicy::LastKnownGood => OnStale::LastKnownGood,
        }
    }
}

impl From<OnStale> for FailurePolicy {
    fn from(on_stale: OnStale) -> Self {
        match on_stale {
            OnStale::Open => FailurePolicy::Open,
            OnStale::Closed => FailurePolicy::Closed,
            OnStale::LastKnownGood => FailurePolicy::LastKnownGood,
        }
    }
}

/// The configured policies (`TOLLGATE_FAILURE_POLICY`):
/// `{"default": "last_known_good", "features": {"api_calls": "open"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailurePolicies {
    #[serde(default)]
    default: FailurePolicy,
    #[serde(default)]
    features: BTreeMap<String, FailurePolicy>,
}

impl FailurePolicies {
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    pub fn for_feature(&self, feature: &str) -> FailurePolicy {
        self.features.get(feature).copied().unwrap_or(self.default)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn features_override_the_default() {
        let p = FailurePolicies::parse(
            r#"{"default": "closed", "features": {"api_calls": "open", "projects": "last_known_good"}}"#,
        )
        .unwrap();
        assert_eq!(p.for_feature("api_calls"), FailurePolicy::Open);
        assert_eq!(p.for_feature("projects"), FailurePolicy::LastKnownGood);
        assert_eq!(p.for_feature("storage"), FailurePolicy::Closed);
    }

    #[test]
    fn last_known_good_is_the_default() {
        assert_eq!(
            FailurePolicies::default().for_feature("x"),
            FailurePolicy::LastKnownGood
        );
        assert_eq!(
            FailurePolicies::parse("{}").unwrap().for_feature("x"),
            FailurePolicy::LastKnownGood
        );
    }

    #[test]
    fn unknown_policies_are_rejected() {
        assert!(FailurePolicies::parse(r#"{"default": "maybe"}"#).is_err());
    }
}
