//! The answer to "may this customer do this now, and how much is left?".
//!
//! A refusal is data, not an error: every check returns a `Decision`, whose JSON field names are
//! the contract of DESIGN.md.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::catalog::{OnStale, PlanIndex};
use crate::time::Timestamp;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision<'a> {
    pub allowed: bool,
    pub reason: Reason,
    /// The effective plan at `now`; `None` only without a snapshot ([`Decision::unavailable`]).
    pub plan: Option<&'a PlanEntry>,
    /// `None` when unlimited, and for booleans and unknown features.
    pub limit: Option<u64>,
    /// The level before this request; `None` for booleans and unknown features.
    pub used: Option<u64>,
    /// What is left after this request's outcome; `None` when unlimited.
    pub remaining: Option<u64>,
    /// The next reset of a metered feature.
    pub resets_at: Option<Timestamp>,
    /// Units of this request beyond the limit.
    pub overage: u64,
    pub warning: Option<Warning>,
    /// On a refusal: the cheapest plan that would allow this request.
    pub upgrade: Option<&'a PlanEntry>,
    /// The snapshot's `issued_at`; `None` without a snapshot.
    pub as_of: Option<Timestamp>,
    /// Whether the snapshot is past its `stale_after`.
    pub stale: bool,
}

/// A plan as decisions name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanEntry {
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) rank: i64,
    pub(crate) index: PlanIndex,
}

impl PlanEntry {
    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn rank(&self) -> i64 {
        self.rank
    }
    /// Position in rank order, lowest first.
    pub fn index(&self) -> PlanIndex {
        self.index
    }
}

impl Decision<'static> {
    /// The answer when no snapshot can be read at all, by the feature's failure policy: `open`
    /// allows; `closed` refuses, and so does `last_known_good`, since nothing is known. Nothing
    /// is known of the plan, the limit or the usage, and the answer counts as stale.
    pub fn unavailable(policy: OnStale) -> Decision<'static> {
        let allowed = policy == OnStale::Open;
        Decision {
            allowed,
            reason: if allowed {
                Reason::Ok
            } else {
                Reason::SnapshotUnavailable
            },
            plan: None,
            limit: None,
            used: None,
            remaining: None,
            resets_at: None,
            overage: 0,
            warning: None,
            upgrade: None,
            as_of: None,
            stale: true,
        }
    }
}

macro_rules! codes {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the order of their numeric codes (`as u8`).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code as DESIGN.md spells it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

codes!(
    /// Why a decision came out as it did.
    Reason {
        Ok = "ok",
        UnknownFeature = "unknown_feature",
        NotInPlan = "not_in_plan",
        LimitReached = "limit_reached",
        SubscriptionEnded = "subscription_ended",
        PaymentOverdue = "payment_overdue",
        StaleSnapshot = "stale_snapshot",
        // No snapshot could be read: only `Decision::unavailable` gives it.
        SnapshotUnavailable = "snapshot_unavailable",
    }
);

codes!(
    /// Something the customer should hear about even when allowed.
    Warning {
        SoftLimit = "soft_limit",
        PaymentPastDue = "payment_past_due",
        Overage = "overage",
    }
);

impl Serialize for Decision<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Upgrade<'a>(&'a PlanEntry);
        impl Serialize for Upgrade<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut out = s.serialize_struct("Upgrade", 2)?;
                out.serialize_field("plan", &self.0.key)?;
                out.serialize_field("name", &self.0.name)?;
                out.end()
            }
        }
        let mut out = s.serialize_struct("Decision", 12)?;
        out.serialize_field("allowed", &self.allowed)?;
        out.serialize_field("reason", &self.reason)?;
        out.serialize_field("plan", &self.plan.map(PlanEntry::key))?;
        out.serialize_field("limit", &self.limit)?;
        out.serialize_field("used", &self.used)?;
        out.serialize_field("remaining", &self.remaining)?;
        out.serialize_field("resetsAt", &self.resets_at)?;
        out.serialize_field("overage", &self.overage)?;
        out.serialize_field("warning", &self.warning)?;
        out.serialize_field("upgrade", &self.upgrade.map(Upgrade))?;
        out.serialize_field("asOf", &self.as_of)?;
        out.serialize_field("stale", &self.stale)?;
        out.end()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::{Decision, Reason};
    use crate::catalog::OnStale;

    #[test]
    fn without_a_snapshot_open_allows_and_the_others_refuse() {
        let open = Decision::unavailable(OnStale::Open);
        assert!(open.allowed);
        assert_eq!(open.reason, Reason::Ok);
        for policy in [OnStale::Closed, OnStale::LastKnownGood] {
            let refused = Decision::unavailable(policy);
            assert!(!refused.allowed);
            assert_eq!(refused.reason.as_str(), "snapshot_unavailable");
        }
    }

    #[test]
    fn without_a_snapshot_nothing_is_known_and_the_answer_is_stale() {
        let closed = serde_json::to_value(Decision::unavailable(OnStale::Closed)).unwrap();
        assert_eq!(
            closed,
            json!({
                "allowed": false, "reason": "snapshot_unavailable", "plan": null,
                "limit": null, "used": null, "remaining": null, "resetsAt": null,
                "overage": 0, "warning": null, "upgrade": null, "asOf": null, "stale": true,
            })
        );
        let open = serde_json::to_value(Decision::unavailable(OnStale::Open)).unwrap();
        assert_eq!(open["allowed"], true);
        assert_eq!(open["reason"], "ok");
        assert_eq!(open["stale"], true);
    }
}
