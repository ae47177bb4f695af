//! What the engine says a change of usage means: soft limit and limit crossings, and overage.
//!
//! Each question is put to the engine itself: a snapshot is built once for the customer, and
//! `Gate::check_with_pending` answers for the units added on top of the count before the
//! change. Nothing here re-derives a limit, a soft-limit ratio or an overage rule.

use tollgate_gate::{
    Account, Catalog, Decision, FeatureRef, Gate, Overage, Timestamp, Warning, build_snapshot,
};

use super::UsageError;
use std::collections::BTreeSet;

/// How close a count is to its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Normal,
    /// At or past `warn_at` of the limit.
    SoftLimit,
    /// At or past the limit.
    Limit,
}

impl Level {
    /// The level a decision leaves the count at.
    pub(crate) fn of(decision: &Decision<'_>) -> Level {
        if !decision.allowed || decision.overage > 0 || decision.remaining == Some(0) {
            Level::Limit
        } else if decision.warning == Some(Warning::SoftLimit) {
            Level::SoftLimit
        } else {
            Level::Normal
        }
    }
}

/// What adding `units` of a feature did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Effect {
    pub(crate) before: Level,
    pub(crate) after: Level,
    /// Units beyond the limit, when the plan bills overage (else 0).
    pub(crate) billed_overage: u64,
}

impl Effect {
    /// Whether the snapshot should be rebuilt at once rather than coalesced.
    pub(crate) fn crossed(self) -> bool {
        self.after > self.before
    }
}

/// A customer's account compiled once for the engine's answers about any of its features at
/// any count: the snapshot is built without usage, and each question passes the count as
/// usage not yet in the snapshot (`Gate::check_with_pending`).
#[derive(Debug)]
pub(crate) struct Judge {
    gate: Gate,
    /// The features whose overage the plan at `now` bills.
    billed: BTreeSet<String>,
    now: Timestamp,
}

impl Judge {
    /// The engine's view of `account` at `now`; its usage counts and gauge levels are not read
    /// (each question names the count it is about).
    pub(crate) fn new(
        catalog: &Catalog,
        account: &Account,
        now: Timestamp,
    ) -> Result<Self, UsageError> {
        let account = Account {
            usage: Default::default(),
            gauges: Default::default(),
            ..account.clone()
        };
        let snapshot = build_snapshot(catalog, &account, now);
        let gate = Gate::new(&snapshot)?;
        let plan = gate.plan_at(now).key();
        let billed = snapshot
            .features
            .iter()
            .filter(|(_, f)| {
                f.plans
                    .get(plan)
                    .is_some_and(|limit| limit.overage == Overage::Bill)
            })
            .map(|(key, _)| key.clone())
            .collect();
        Ok(Self { gate, billed, now })
    }

    /// The engine's answers about `feature` at `used` units.
    pub(crate) fn feature(&self, feature: &str, used: u64) -> FeatureJudge<'_> {
        let bills = self.billed.contains(feature);
        let feature = self.gate.resolve(feature);
        FeatureJudge {
            judge: self,
            feature,
            used,
            bills,
        }
    }
}

/// The engine's answers about one feature of a [`Judge`]'s account at one count.
#[derive(Debug)]
pub(crate) struct FeatureJudge<'j> {
    judge: &'j Judge,
    feature: FeatureRef,
    used: u64,
    bills: bool,
}

impl FeatureJudge<'_> {
    /// The engine's decision for `units` more.
    pub(crate) fn decide(&self, units: u64) -> Decision<'_> {
        self.judge
            .gate
            .check_ref_with_pending(self.feature, units, self.used, self.judge.now)
    }

    /// What adding `units` does.
    pub(crate) fn effect(&self, units: u64) -> Effect {
        let after = self.decide(units);
        Effect {
            before: Level::of(&self.decide(0)),
            after: Level::of(&after),
            billed_overage: self.billed(&after),
        }
    }

    /// Units of `decision` that Polar bills.
    pub(crate) fn billed(&self, decision: &Decision<'_>) -> u64 {
        if self.bills && decision.allowed {
            decision.overage
        } else {
            0
        }
    }

    /// Splits the billed overage of consecutive additions among them: the i-th share is the
    /// overage of the first i additions together minus that of the first i − 1.
    pub(crate) fn split(&self, amounts: impl IntoIterator<Item = u64>) -> Vec<u64> {
        let mut total = 0u64;
        let mut billed_before = 0u64;
        amounts
            .into_iter()
            .map(|amount| {
                total = total.saturating_add(amount);
                let billed = self.billed(&self.decide(total));
                let share = billed.saturating_sub(billed_before);
                billed_before = billed;
                share
            })
            .collect()
    }
}
