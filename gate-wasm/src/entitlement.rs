//! Which plan a customer is on at `now`: DESIGN.md's status rules over a snapshot's subscriptions.
//!
//! Each subscription is compiled once into a `Term` — the window in which it entitles its plan
//! and, once it has stopped, the reason a refusal gives — so that judging `now` is a handful of
//! integer comparisons.

use std::cmp::Ordering;

use crate::catalog::PlanIndex;
use crate::decision::Reason;
use crate::polar::{Interval, SubscriptionStatus};
use crate::quantity::Limit;
use crate::snapshot::SnapshotSubscription;
use crate::time::Timestamp;

/// How long the facts of a subscription that stopped entitling keep explaining refusals.
pub(crate) const ENDED_MEMORY_DAYS: i64 = 30;

/// One subscription, compiled.
#[derive(Clone, Debug)]
pub(crate) struct Term {
    /// Its plan; `None` for a product no plan claims.
    pub plan: Option<PlanIndex>,
    pub past_due: bool,
    /// Entitles while `now < until`.
    until: Timestamp,
    /// Once it no longer entitles: the refusal reason, and when it stopped.
    ended: Option<(Reason, Timestamp)>,
    pub period_start: Timestamp,
    pub period_end: Option<Timestamp>,
    /// Whether the period rolls over by itself (active and trialing renew).
    pub renews: bool,
    pub interval: Interval,
    pub interval_count: u32,
    /// Seats bought; `None` when not seat-based.
    pub units: Option<u64>,
}

/// The effective plan at an instant and the subscription that provides it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Standing {
    pub plan: PlanIndex,
    /// Index of the source subscription; `None` on the default plan.
    pub source: Option<usize>,
    pub past_due: bool,
}

impl Term {
    pub(crate) fn new(sub: &SnapshotSubscription, plan: Option<PlanIndex>) -> Term {
        use SubscriptionStatus as S;
        let end = sub.current_period_end;
        let stopped = sub.ended_at.or(end).unwrap_or(sub.current_period_start);
        let (until, ended) = match sub.status {
            S::Active | S::Trialing if sub.cancel_at_period_end => {
                let until = end.unwrap_or(Timestamp::MAX);
                (until, Some((Reason::SubscriptionEnded, until)))
            }
            S::Active | S::Trialing => (Timestamp::MAX, None),
            S::PastDue => {
                let until = sub.grace_ends_at.or(end).unwrap_or(Timestamp::MAX);
                (until, Some((Reason::PaymentOverdue, until)))
            }
            S::Canceled => (Timestamp::MIN, Some((Reason::SubscriptionEnded, stopped))),
            S::Unpaid => (Timestamp::MIN, Some((Reason::PaymentOverdue, stopped))),
            S::Incomplete | S::IncompleteExpired | S::Paused | S::Unknown => (Timestamp::MIN, None),
        };
        Term {
            plan,
            past_due: sub.status == S::PastDue,
            until,
            ended,
            period_start: sub.current_period_start,
            period_end: end,
            renews: matches!(sub.status, S::Active | S::Trialing),
            interval: sub.recurring_interval,
            interval_count: sub.recurring_interval_count.max(1),
            units: sub.units,
        }
    }

    /// The limit of a feature its plan sets to `"seats"`: its units, 0 when it has none.
    pub(crate) fn seats(&self) -> Limit {
        Limit::Finite(self.units.unwrap_or(0))
    }

    pub(crate) fn entitles(&self, now: Timestamp) -> bool {
        now < self.until
    }

    /// Why it no longer entitles, if it stopped less than 30 days before `now`.
    pub(crate) fn ended_recently(&self, now: Timestamp) -> Option<Reason> {
        if self.entitles(now) {
            return None;
        }
        let (reason, at) = self.ended?;
        (now < at.plus_days(ENDED_MEMORY_DAYS)).then_some(reason)
    }

    /// When it stopped entitling, if it has an end that explains refusals.
    pub(crate) fn ended_at(&self) -> Option<Timestamp> {
        self.ended.map(|(_, at)| at)
    }
}

/// The order subscriptions are considered in, the first of equals winning: the latest
/// `current_period_start` first, then the smallest id. Building a snapshot and compiling it both
/// sort by it, so the snapshot and its gate pick the same source subscription.
pub(crate) fn tie_break(a: &SnapshotSubscription, b: &SnapshotSubscription) -> Ordering {
    b.current_period_start
        .cmp(&a.current_period_start)
        .then_with(|| a.id.cmp(&b.id))
}

/// The effective plan at `now`: the highest-ranked plan among entitling subscriptions (a
/// subscription in good standing preferred to a `past_due` one of the same plan), else the
/// default. `terms` are in [`tie_break`] order, so the first of equals wins.
pub(crate) fn standing_at(terms: &[Term], default_plan: PlanIndex, now: Timestamp) -> Standing {
    let mut best: Option<(PlanIndex, usize, bool)> = None;
    for (index, term) in terms.iter().enumerate() {
        let Some(plan) = term.plan else { continue };
        if !term.entitles(now) {
            continue;
        }
        let better = match best {
            None => true,
            Some((best_plan, _, best_past_due)) => {
                plan > best_plan || (plan == best_plan && best_past_due && !term.past_due)
            }
        };
        if better {
            best = Some((plan, index, term.past_due));
        }
    }
    match best {
        Some((plan, source, past_due)) => Standing {
            plan,
            source: Some(source),
            past_due,
        },
        None => Standing {
            plan: default_plan,
            source: None,
            past_due: false,
        },
    }
}
