//! `check`: DESIGN.md's decision rules over a compiled snapshot.

use super::{FeatureRef, Gate, Provision};
use crate::catalog::{FeatureType, OnStale, PlanIndex};
use crate::decision::{Decision, PlanEntry, Reason, Warning};
use crate::entitlement::Term;
use crate::gate::CompiledFeature;
use crate::quantity::Limit;
use crate::time::Timestamp;

/// One request within `check_many`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub feature: &'a str,
    pub amount: u64,
}

impl Gate {
    /// May the customer use `amount` of `feature` at `now`? Deterministic and total.
    #[inline]
    pub fn check(&self, feature: &str, amount: u64, now: Timestamp) -> Decision<'_> {
        self.check_ref_with_pending(self.resolve(feature), amount, 0, now)
    }

    /// `check`, counting `pending` units of `feature` used since the snapshot was issued and
    /// not yet in it (a Worker's own count of what it allowed): the Decision is the one a
    /// snapshot whose `used` included them would give. Pending units belong to the period
    /// current at `now`; see [`Gate::period`]. Booleans have no usage and ignore them.
    #[inline]
    pub fn check_with_pending(
        &self,
        feature: &str,
        amount: u64,
        pending: u64,
        now: Timestamp,
    ) -> Decision<'_> {
        self.check_ref_with_pending(self.resolve(feature), amount, pending, now)
    }

    /// Each request decided on its own against this snapshot at `now`.
    pub fn check_many<'g>(&'g self, requests: &[Request<'_>], now: Timestamp) -> Vec<Decision<'g>> {
        requests
            .iter()
            .map(|r| self.check(r.feature, r.amount, now))
            .collect()
    }

    /// `check` for a feature already resolved with `resolve`.
    #[inline]
    pub fn check_ref(&self, feature: FeatureRef, amount: u64, now: Timestamp) -> Decision<'_> {
        self.check_ref_with_pending(feature, amount, 0, now)
    }

    /// `check_with_pending` for a feature already resolved with `resolve`.
    pub fn check_ref_with_pending(
        &self,
        feature: FeatureRef,
        amount: u64,
        pending: u64,
        now: Timestamp,
    ) -> Decision<'_> {
        let standing = self.standing_at(now);
        let mut decision = Decision {
            allowed: false,
            reason: Reason::UnknownFeature,
            plan: Some(self.plan_entry(standing.plan)),
            limit: None,
            used: None,
            remaining: None,
            resets_at: None,
            overage: 0,
            warning: standing.past_due.then_some(Warning::PaymentPastDue),
            upgrade: None,
            as_of: Some(self.issued_at),
            stale: now >= self.stale_after,
        };
        let Some(feature) = feature.0.and_then(|i| self.features.get(i as usize)) else {
            return decision;
        };

        let period = self.period_of(feature, standing, now);
        let used = feature.used_in(period).saturating_add(pending);
        let seats = standing
            .source
            .and_then(|i| self.terms.get(i))
            .map_or(Limit::Finite(0), Term::seats);
        let provision = feature.provision(standing.plan, seats, now);
        let on_stale = if decision.stale {
            feature.on_stale
        } else {
            OnStale::LastKnownGood
        };
        decision.allowed = match on_stale {
            OnStale::LastKnownGood => provision.allows(used, amount),
            OnStale::Open => true,
            OnStale::Closed => false,
        };

        if feature.kind != FeatureType::Boolean {
            count(&mut decision, provision, used, amount);
            decision.resets_at = period.and_then(|p| p.resets_at);
        }

        decision.reason = if decision.allowed {
            Reason::Ok
        } else if on_stale == OnStale::Closed {
            Reason::StaleSnapshot
        } else {
            let reason = self.refusal_reason(feature, provision, used, amount, now);
            decision.upgrade = self.upgrade(feature, standing.plan, used, amount, now);
            reason
        };
        if decision.overage > 0 {
            decision.warning = Some(Warning::Overage);
        } else if decision.warning.is_none()
            && decision.allowed
            && soft_limit(provision, used, amount)
        {
            decision.warning = Some(Warning::SoftLimit);
        }
        decision
    }

    /// A subscription that would have allowed this request but stopped entitling explains the
    /// refusal best; otherwise the feature is not in the plan or its limit is reached.
    fn refusal_reason(
        &self,
        feature: &CompiledFeature,
        provision: Provision,
        used: u64,
        amount: u64,
        now: Timestamp,
    ) -> Reason {
        let ended = self
            .ended
            .iter()
            .filter_map(|&i| self.terms.get(i))
            .find_map(|term| {
                let reason = term.ended_recently(now)?;
                let plan = term.plan?;
                feature
                    .provision(plan, term.seats(), now)
                    .allows(used, amount)
                    .then_some(reason)
            });
        match (ended, provision) {
            (Some(reason), _) => reason,
            (None, Provision::Off) => Reason::NotInPlan,
            (None, _) => Reason::LimitReached,
        }
    }

    /// The lowest-ranked plan above the effective one that would cover this request. A plan
    /// that counts seats covers it: the customer buys the seats the request needs.
    fn upgrade(
        &self,
        feature: &CompiledFeature,
        plan: PlanIndex,
        used: u64,
        amount: u64,
        now: Timestamp,
    ) -> Option<&PlanEntry> {
        self.plans.iter().skip(plan.get() + 1).find(|p| {
            feature
                .provision(p.index, Limit::Unlimited, now)
                .covers(used, amount)
        })
    }
}

/// Fills limit, used, remaining and overage of a gauge or metered decision.
fn count(decision: &mut Decision<'_>, provision: Provision, used: u64, amount: u64) {
    let after = used.saturating_add(amount);
    decision.used = Some(used);
    let limit = match provision {
        Provision::Quantity {
            limit: Limit::Finite(limit),
            ..
        } => Some(limit),
        Provision::Quantity {
            limit: Limit::Unlimited,
            ..
        } => None,
        Provision::Off | Provision::On => Some(0),
    };
    decision.limit = limit;
    if let Some(limit) = limit {
        decision.remaining = Some(if decision.allowed {
            limit.saturating_sub(after)
        } else {
            limit.saturating_sub(used)
        });
        if decision.allowed {
            decision.overage = amount.min(after.saturating_sub(limit));
        }
    }
}

fn soft_limit(provision: Provision, used: u64, amount: u64) -> bool {
    match provision {
        Provision::Quantity {
            limit: Limit::Finite(limit),
            warn_at: Some(warn_at),
            ..
        } => warn_at.reached(used.saturating_add(amount), limit),
        _ => false,
    }
}
