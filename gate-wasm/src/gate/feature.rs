//! One feature of a snapshot, compiled: what each plan allows plus grants, at any `now`.

use crate::account::GrantAmount;
use crate::catalog::{FeatureType, OnStale, Overage, PlanIndex, PlanLimit, Reset};
use crate::period::Period;
use crate::quantity::{Allowance, Limit, WarnAt};
use crate::snapshot::SnapshotGrant;
use crate::time::Timestamp;

#[derive(Clone, Debug)]
pub(crate) struct CompiledFeature {
    pub key: Box<str>,
    pub kind: FeatureType,
    pub reset: Option<Reset>,
    pub on_stale: OnStale,
    used: u64,
    /// Metered: the start of the period `used` was counted in.
    counted_from: Option<Timestamp>,
    /// What each plan allows, by [`PlanIndex`].
    by_plan: Vec<Option<PlanLimit>>,
    grants: Vec<SnapshotGrant>,
}

/// What a plan plus grants provide of one feature at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Provision {
    /// Not in the plan, or a boolean that is off.
    Off,
    /// A boolean that is on.
    On,
    Quantity {
        limit: Limit,
        overage: Overage,
        warn_at: Option<WarnAt>,
    },
}

impl CompiledFeature {
    pub(crate) fn new(
        key: &str,
        kind: FeatureType,
        reset: Option<Reset>,
        on_stale: OnStale,
        usage: (u64, Option<Timestamp>),
        by_plan: Vec<Option<PlanLimit>>,
        grants: Vec<SnapshotGrant>,
    ) -> CompiledFeature {
        let (used, counted_from) = usage;
        CompiledFeature {
            key: key.into(),
            kind,
            reset,
            on_stale,
            used,
            counted_from,
            by_plan,
            grants,
        }
    }

    /// The level before a request. A metered count holds while the period current at `now` is
    /// the one it was counted in, and is 0 in any later period.
    pub(crate) fn used_in(&self, period: Option<Period>) -> u64 {
        match period {
            Some(period) if period.start != self.counted_from => 0,
            _ => self.used,
        }
    }

    /// The plan's allowance plus the grants in force at `now`. `seats` is the limit of a
    /// feature the plan sets to `"seats"`: the units of the subscription that gives the plan.
    pub(crate) fn provision(&self, plan: PlanIndex, seats: Limit, now: Timestamp) -> Provision {
        let base = self.by_plan.get(plan.get()).copied().flatten();
        let active = self
            .grants
            .iter()
            .filter(move |g| g.expires_at.is_none_or(|end| now < end))
            .map(|g| g.amount);
        if self.kind == FeatureType::Boolean {
            let on = matches!(
                base,
                Some(PlanLimit {
                    limit: Allowance::Enabled,
                    ..
                })
            ) || active.into_iter().any(|a| a == GrantAmount::Enabled);
            return if on { Provision::On } else { Provision::Off };
        }
        let mut limit = match base {
            Some(PlanLimit { seats: true, .. }) => Some(seats),
            Some(PlanLimit {
                limit: Allowance::Units(limit),
                ..
            }) => Some(limit),
            _ => None,
        };
        for extra in active.filter_map(GrantAmount::as_limit) {
            limit = Some(limit.unwrap_or(Limit::Finite(0)).plus(extra));
        }
        match (limit, base) {
            (None, _) => Provision::Off,
            (Some(limit), Some(plan)) => Provision::Quantity {
                limit,
                overage: plan.overage,
                warn_at: plan.warn_at,
            },
            (Some(limit), None) => Provision::Quantity {
                limit,
                overage: Overage::Block,
                warn_at: None,
            },
        }
    }
}

impl Provision {
    /// Whether a request of `amount` on top of `used` goes through.
    pub(crate) fn allows(self, used: u64, amount: u64) -> bool {
        match self {
            Provision::Off => false,
            Provision::On => true,
            Provision::Quantity { limit, overage, .. } => {
                !overage.is_block() || limit.admits(used.saturating_add(amount))
            }
        }
    }

    /// Whether a plan would cover the request outright, without overage (for upgrade hints).
    pub(crate) fn covers(self, used: u64, amount: u64) -> bool {
        match self {
            Provision::Off => false,
            Provision::On => true,
            Provision::Quantity { limit, .. } => limit.admits(used.saturating_add(amount)),
        }
    }

    /// As snapshots write it for readers; `None` when not provided.
    pub(crate) fn allowance(self) -> Option<Allowance> {
        match self {
            Provision::Off => None,
            Provision::On => Some(Allowance::Enabled),
            Provision::Quantity { limit, .. } => Some(Allowance::Units(limit)),
        }
    }
}
