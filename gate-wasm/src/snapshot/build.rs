//! `build_snapshot`: from a customer's account and the catalog to the snapshot the edge reads.

use std::collections::BTreeMap;

use super::{
    PlanRef, SCHEMA, Snapshot, SnapshotFeature, SnapshotGrant, SnapshotPlan, SnapshotSubscription,
    SnapshotWarning,
};
use crate::account::{Account, GrantAmount};
use crate::catalog::{Catalog, Feature, FeatureType, PlanIndex};
use crate::entitlement::{ENDED_MEMORY_DAYS, Term, standing_at, tie_break};
use crate::gate::CompiledFeature;
use crate::order::sorted_by;
use crate::period::metered_period;
use crate::polar::{Subscription, SubscriptionStatus};
use crate::time::Timestamp;

/// Builds a customer's snapshot at `now` (its `issued_at`). Pure: the same inputs give the same
/// snapshot. Products no plan claims, and grants or usage of unknown features, become warnings.
pub fn build_snapshot(catalog: &Catalog, account: &Account, now: Timestamp) -> Snapshot {
    let mut warnings = Vec::new();
    let (subscriptions, terms) = subscriptions(catalog, account, now, &mut warnings);
    let standing = standing_at(&terms, catalog.default_plan_index(), now);
    let source = standing.source.and_then(|i| terms.get(i));

    // Maps here are filled by `insert`, the code deserializing them already has; `collect`
    // would add a copy of the sort to the WebAssembly module.
    let mut features = BTreeMap::new();
    for feature in catalog.features() {
        let built = self::feature(
            catalog,
            feature,
            account,
            standing.plan,
            source,
            now,
            &mut warnings,
        );
        features.insert(feature.key.clone(), built);
    }
    for (kind, keys) in [
        (
            "grant",
            account
                .grants
                .iter()
                .map(|g| &g.feature)
                .collect::<Vec<_>>(),
        ),
        ("usage", account.usage.keys().collect()),
        ("gauge", account.gauges.keys().collect()),
    ] {
        for key in keys.into_iter().filter(|k| catalog.feature(k).is_none()) {
            warnings.push(SnapshotWarning {
                code: format!("unknown_{kind}_feature"),
                message: format!(
                    "{kind} for feature `{key}`, which the catalog does not define, is ignored"
                ),
            });
        }
    }

    let plans = catalog.plans();
    let plan = catalog
        .plan_at(standing.plan)
        .unwrap_or(catalog.default_plan());
    Snapshot {
        schema: SCHEMA,
        customer: account.customer.clone(),
        revision: account.revision,
        issued_at: now,
        stale_after: now.plus_hours(i64::from(catalog.stale_after_hours())),
        plan: PlanRef {
            key: plan.key.clone(),
            name: plan.name.clone(),
        },
        default_plan: catalog.default_plan().key.clone(),
        plans: plans
            .iter()
            .map(|p| SnapshotPlan {
                key: p.key.clone(),
                name: p.name.clone(),
                rank: p.rank,
            })
            .collect(),
        subscriptions,
        features,
        warnings,
    }
}

/// The subscriptions worth keeping — entitling now, or stopped within the last 30 days — in the
/// [`tie_break`] order, with their compiled terms.
fn subscriptions(
    catalog: &Catalog,
    account: &Account,
    now: Timestamp,
    warnings: &mut Vec<SnapshotWarning>,
) -> (Vec<SnapshotSubscription>, Vec<Term>) {
    let mut kept: Vec<(SnapshotSubscription, Option<PlanIndex>)> = Vec::new();
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
    (kept.into_iter().map(|(facts, _)| facts).collect(), terms)
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

fn feature(
    catalog: &Catalog,
    feature: &Feature,
    account: &Account,
    plan: PlanIndex,
    source: Option<&Term>,
    now: Timestamp,
    warnings: &mut Vec<SnapshotWarning>,
) -> SnapshotFeature {
    let mut plans = BTreeMap::new();
    for p in catalog.plans() {
        if let Some(limit) = p.limits.get(&feature.key) {
            plans.insert(p.key.clone(), *limit);
        }
    }
    let mut grants = Vec::new();
    for grant in account.grants.iter().filter(|g| g.feature == feature.key) {
        if grant.expires_at.is_some_and(|end| end <= now) {
            continue;
        }
        let fits = (feature.kind == FeatureType::Boolean) == (grant.amount == GrantAmount::Enabled);
        if fits {
            grants.push(SnapshotGrant {
                amount: grant.amount,
                expires_at: grant.expires_at,
            });
        } else {
            warnings.push(SnapshotWarning {
                code: "grant_type_mismatch".into(),
                message: format!(
                    "a grant of {} for `{}` is ignored: booleans take true, gauges and metered features a number or \"unlimited\"",
                    serde_json::to_string(&grant.amount).unwrap_or_default(),
                    feature.key
                ),
            });
        }
    }
    let (used, period) = match (feature.kind, feature.reset) {
        (FeatureType::Gauge, _) => (
            Some(account.gauges.get(&feature.key).copied().unwrap_or(0)),
            None,
        ),
        (FeatureType::Metered, Some(reset)) => (
            Some(account.usage.get(&feature.key).copied().unwrap_or(0)),
            Some(metered_period(reset, source, now)),
        ),
        _ => (None, None),
    };
    let compiled = CompiledFeature::new(
        &feature.key,
        feature.kind,
        feature.reset,
        feature.on_stale,
        (used.unwrap_or(0), period.and_then(|p| p.start)),
        catalog
            .plans()
            .iter()
            .map(|p| plans.get(&p.key).copied())
            .collect(),
        grants.clone(),
    );
    SnapshotFeature {
        kind: feature.kind,
        unit: feature.unit.clone(),
        reset: feature.reset,
        on_stale: feature.on_stale,
        limit: compiled.provision(plan, now).allowance(),
        used,
        period_start: period.and_then(|p| p.start),
        resets_at: period.and_then(|p| p.resets_at),
        plans,
        grants,
    }
}
