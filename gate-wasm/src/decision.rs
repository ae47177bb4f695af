//! The answer to "may this customer do this now, and how much is left?".
//!
//! A refusal is data, not an error: every check returns a `Decision`, whose JSON field names are
//! the contract of DESIGN.md.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::catalog::PlanIndex;
use crate::time::Timestamp;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision<'a> {
    pub allowed: bool,
    pub reason: Reason,
    /// The effective plan at `now`.
    pub plan: &'a PlanEntry,
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
    /// The snapshot's `issued_at`.
    pub as_of: Timestamp,
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
        out.serialize_field("plan", &self.plan.key)?;
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
