//! `build_snapshot`: from a customer's account and the catalog to the snapshot the edge reads.

use std::collections::BTreeMap;

use super::subscriptions::kept_subscriptions;
use super::{
    PlanRef, SCHEMA, Snapshot, SnapshotFeature, SnapshotGrant, SnapshotPlan, SnapshotWarning,
};
use crate::account::{Account, GrantAmount};
use crate::catalog::{Catalog, Feature, FeatureType, PlanIndex, PlanLimit};
use crate::entitlement::Term;
use crate::gate::CompiledFeature;
use crate::period::feature_period;
use crate::quantity::{Allowance, Limit};
use crate::time::Timestamp;

/// Builds a customer's snapshot at `now` (its `issued_at`). Pure: the same inputs give the same
/// snapshot. Products no plan claims, and grants or usage of unknown features, become warnings.
pub fn build_snapshot(catalog: &Catalog, account: &Account, now: Timestamp) -> Snapshot {
    let mut kept = kept_subscriptions(catalog, account, now);
    let mut warnings = std::mem::take(&mut kept.warnings);
    let (standing, source) = kept.standing_at(catalog, now);

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
        subscriptions: kept.facts,
        features,
        warnings,
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
    let seats = source.map_or(Limit::Finite(0), Term::seats);
    let mut plans = BTreeMap::new();
    for (index, p) in catalog.plans().iter().enumerate() {
        if let Some(limit) = p.limits.get(&feature.key) {
            plans.insert(p.key.clone(), at_issue(*limit, index == plan.get(), seats));
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
    let period = feature_period(feature.kind, feature.reset, source, now);
    let used = match (feature.kind, period) {
        (FeatureType::Gauge, _) => Some(account.gauges.get(&feature.key).copied().unwrap_or(0)),
        (FeatureType::Metered, Some(_)) => {
            Some(account.usage.get(&feature.key).copied().unwrap_or(0))
        }
        _ => None,
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
    let limit = compiled.provision(plan, seats, now).allowance();
    SnapshotFeature {
        kind: feature.kind,
        unit: feature.unit.clone(),
        reset: feature.reset,
        on_stale: feature.on_stale,
        lease: feature.lease_for(limit),
        limit,
        used,
        period_start: period.and_then(|p| p.start),
        resets_at: period.and_then(|p| p.resets_at),
        plans,
        grants,
    }
}

/// A plan's limit as the snapshot writes it. A seat limit also carries, in `limit`, the seats of
/// the subscription giving the plan at issue (0 for other plans), so that a reader that predates
/// seat limits still reads a number; readers that know `seats` take the units at `now`.
fn at_issue(limit: PlanLimit, effective: bool, seats: Limit) -> PlanLimit {
    if !limit.seats {
        return limit;
    }
    PlanLimit {
        limit: Allowance::Units(if effective { seats } else { Limit::Finite(0) }),
        ..limit
    }
}
