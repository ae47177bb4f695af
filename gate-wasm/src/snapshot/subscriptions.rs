//! Which of an account's subscriptions a snapshot keeps, and the plan they give at `now`.
//!
//! Shared by `build_snapshot` and `metered_periods`, so the periods the sync worker counts in
//! are the snapshot's to the letter.

use super::{SnapshotSubscription, SnapshotWarning};
use crate::account::Account;
use crate::catalog::{Catalog, PlanIndex};
use crate::entitlement::{ENDED_MEMORY_DAYS, Standing, Term, standing_at, tie_break};
use crate::order::sorted_by;
use crate::polar::{Subscription, SubscriptionStatus};
use crate::time::Timestamp;

/// The subscriptions worth keeping — entitling now, or stopped within the last 30 days — in
/// [`tie_break`] order, with their compiled terms.
#[derive(Debug)]
pub(crate) struct Kept {
    pub facts: Vec<SnapshotSubscription>,
    /// `terms[i]` is `facts[i]` compiled.
    pub terms: Vec<Term>,
    /// One `unknown_product` warning per entitling subscription to a product no plan claims.
    pub warnings: Vec<SnapshotWarning>,
}

impl Kept {
    /// The effective plan at `now`, and the subscription that provides it.
    pub(crate) fn standing_at(
        &self,
        catalog: &Catalog,
        now: Timestamp,
    ) -> (Standing, Option<&Term>) {
        let standing = standing_at(&self.terms, catalog.default_plan_index(), now);
        (standing, standing.source.and_then(|i| self.terms.get(i)))
    }
}

pub(crate) fn kept_subscriptions(catalog: &Catalog, account: &Account, now: Timestamp) -> Kept {
    let mut kept: Vec<(SnapshotSubscription, Option<PlanIndex>)> = Vec::new();
    let mut warnings = Vec::new();
    for sub in &account.subscriptions {
        let plan = catalog.plan_index_for(sub);
        let facts = facts(catalog, sub, plan);
        let term = Term::new(&facts, plan);
        if plan.is_none() {
            if term.entitles(now) {
                warnings.push(unknown_product(sub));
            }
            continue;
        }
        if term.entitles(now)
            && facts.units.is_none()
            && let Some(plan) = plan.and_then(|i| catalog.plan_at(i))
            && plan.counts_seats()
        {
            warnings.push(no_units(sub, &plan.key));
        }
        let recent = term
            .ended_at()
            .is_some_and(|at| now < at.plus_days(ENDED_MEMORY_DAYS));
        if term.entitles(now) || recent {
            kept.push((facts, plan));
        }
    }
    let kept = sorted_by(kept, |(a, _), (b, _)| tie_break(a, b));
    let terms = kept
        .iter()
        .map(|(facts, plan)| Term::new(facts, *plan))
        .collect();
    Kept {
        facts: kept.into_iter().map(|(facts, _)| facts).collect(),
        terms,
        warnings,
    }
}

fn facts(catalog: &Catalog, sub: &Subscription, plan: Option<PlanIndex>) -> SnapshotSubscription {
    let plan = plan.and_then(|i| catalog.plan_at(i));
    let grace_days = plan.map_or(0, |p| p.grace_days);
    let end = sub.current_period_end;
    SnapshotSubscription {
        id: sub.id.clone(),
        plan: plan.map(|p| p.key.clone()),
        product_id: sub.product_id.clone(),
        status: sub.status,
        current_period_start: sub.current_period_start,
        current_period_end: end,
        recurring_interval: sub.recurring_interval,
        recurring_interval_count: sub.recurring_interval_count,
        cancel_at_period_end: sub.cancel_at_period_end,
        grace_ends_at: (sub.status == SubscriptionStatus::PastDue)
            .then(|| end.map(|e| e.plus_days(i64::from(grace_days))))
            .flatten(),
        ended_at: matches!(
            sub.status,
            SubscriptionStatus::Canceled | SubscriptionStatus::Unpaid
        )
        .then(|| {
            sub.ended_at
                .or(sub.canceled_at)
                .or(end)
                .unwrap_or(sub.current_period_start)
        }),
        units: sub.seat_count(),
    }
}

fn no_units(sub: &Subscription, plan: &str) -> SnapshotWarning {
    SnapshotWarning {
        code: "missing_units".into(),
        message: format!(
            "subscription {} gives plan `{plan}`, whose limits count seats, but its product {} is not seat-based: those limits are 0",
            sub.id, sub.product_id
        ),
    }
}

fn unknown_product(sub: &Subscription) -> SnapshotWarning {
    let name = sub
        .product
        .as_ref()
        .and_then(|p| p.name.as_deref())
        .unwrap_or("unnamed");
    SnapshotWarning {
        code: "unknown_product".into(),
        message: format!(
            "subscription {} is for product {} (\"{name}\"), which no plan claims: it entitles nothing",
            sub.id, sub.product_id
        ),
    }
}
