//! What a new snapshot tells the app, compared with the previous one.

use super::{ENDING_NOTICE, NewEvent};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tollgate_gate::polar::SubscriptionStatus;
use tollgate_gate::{Allowance, Limit, Snapshot, SnapshotFeature, Timestamp};

pub(crate) const ENTITLEMENTS_UPDATED: &str = "entitlements.updated";
pub(crate) const USAGE_THRESHOLD_REACHED: &str = "usage.threshold_reached";
pub(crate) const PAYMENT_FAILED: &str = "payment.failed";
pub(crate) const SUBSCRIPTION_ENDING: &str = "subscription.ending";

/// The events of a rebuild that replaces `previous` (if any) by `new`, at `now`.
pub(crate) fn changes(
    previous: Option<&Snapshot>,
    new: &Snapshot,
    now: Timestamp,
) -> Vec<NewEvent> {
    let mut events = Vec::new();
    events.extend(entitlements_updated(previous, new));
    events.extend(thresholds(new));
    events.extend(payments_failed(new));
    events.extend(ending(new, now));
    events
}

/// Each feature's limit, grants included (`null`: not in the plan).
fn limits(snapshot: &Snapshot) -> BTreeMap<&str, Option<Allowance>> {
    snapshot
        .features
        .iter()
        .map(|(key, feature)| (key.as_str(), feature.limit))
        .collect()
}

/// `entitlements.updated` when the plan or a limit changed; a first snapshot counts as a change
/// when it is not the default plan's.
fn entitlements_updated(previous: Option<&Snapshot>, new: &Snapshot) -> Option<NewEvent> {
    let changed = match previous {
        Some(previous) => previous.plan != new.plan || limits(previous) != limits(new),
        None => new.plan.key != new.default_plan,
    };
    if !changed {
        return None;
    }
    let data = json!({
        "customer": new.customer,
        "revision": new.revision,
        "plan": new.plan,
        "limits": limits(new),
        "previous_plan": previous.map(|p| &p.plan),
        "previous_limits": previous.map(limits),
    });
    Some(NewEvent::new(
        ENTITLEMENTS_UPDATED,
        &new.customer,
        &new.customer,
        &new.revision.to_string(),
        data,
    ))
}

/// `usage.threshold_reached` for each metered count at its `warn_at` or at its limit. The key
/// holds the period, so each threshold is reported once per period.
fn thresholds(new: &Snapshot) -> Vec<NewEvent> {
    let mut events = Vec::new();
    for (key, feature) in &new.features {
        let (Some(used), Some(period_start), Some(Allowance::Units(Limit::Finite(limit)))) =
            (feature.used, feature.period_start, feature.limit)
        else {
            continue;
        };
        if used == 0 {
            continue;
        }
        let warn_at = feature
            .plans
            .get(&new.plan.key)
            .and_then(|plan| plan.warn_at);
        let warned = warn_at.is_some_and(|warn| {
            // In millionths, as the engine compares: 0.8 × 50 000 is exactly 40 000.
            let millionths = (warn.as_ratio() * 1_000_000.0).round() as u128;
            u128::from(used) * 1_000_000 >= millionths * u128::from(limit)
        });
        let reached = [("warn_at", warned), ("limit", used >= limit)];
        for (threshold, reached) in reached {
            if !reached {
                continue;
            }
            let data = threshold_data(new, key, feature, threshold, limit, used);
            let subject = format!("{}/{key}/{threshold}", new.customer);
            let period = period_start.to_iso();
            events.push(NewEvent::new(
                USAGE_THRESHOLD_REACHED,
                &new.customer,
                &subject,
                &period,
                data,
            ));
        }
    }
    events
}

fn threshold_data(
    new: &Snapshot,
    key: &str,
    feature: &SnapshotFeature,
    threshold: &str,
    limit: u64,
    used: u64,
) -> Value {
    let warn_at = feature
        .plans
        .get(&new.plan.key)
        .and_then(|plan| plan.warn_at);
    json!({
        "customer": new.customer,
        "feature": key,
        "threshold": threshold,
        "used": used,
        "limit": limit,
        "warn_at": warn_at,
        "plan": new.plan.key,
        "period_start": feature.period_start.map(Timestamp::to_iso),
        "resets_at": feature.resets_at.map(Timestamp::to_iso),
    })
}

/// `payment.failed` for each subscription `past_due` or `unpaid`: once per subscription and
/// failed period.
fn payments_failed(new: &Snapshot) -> Vec<NewEvent> {
    new.subscriptions
        .iter()
        .filter(|s| {
            matches!(
                s.status,
                SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid
            )
        })
        .map(|s| {
            let data = json!({
                "customer": new.customer,
                "subscription": s.id,
                "status": s.status,
                "plan": s.plan,
                "current_period_start": s.current_period_start.to_iso(),
                "current_period_end": s.current_period_end.map(Timestamp::to_iso),
                "grace_ends_at": s.grace_ends_at.map(Timestamp::to_iso),
            });
            NewEvent::new(
                PAYMENT_FAILED,
                &new.customer,
                &s.id,
                &s.current_period_start.to_iso(),
                data,
            )
        })
        .collect()
}

/// `subscription.ending` for each live subscription cancelling at a period end that is at
/// most [`ENDING_NOTICE`] after `now`: once per subscription and end.
pub(crate) fn ending(new: &Snapshot, now: Timestamp) -> Vec<NewEvent> {
    let notice = ENDING_NOTICE.num_milliseconds();
    new.subscriptions
        .iter()
        .filter(|s| {
            s.cancel_at_period_end
                && matches!(
                    s.status,
                    SubscriptionStatus::Active | SubscriptionStatus::Trialing
                )
        })
        .filter_map(|s| {
            let ends_at = s.current_period_end?;
            let left = ends_at.as_millis().saturating_sub(now.as_millis());
            (left > 0 && left <= notice).then(|| {
                let data = json!({
                    "customer": new.customer,
                    "subscription": s.id,
                    "status": s.status,
                    "plan": s.plan,
                    "ends_at": ends_at.to_iso(),
                });
                NewEvent::new(
                    SUBSCRIPTION_ENDING,
                    &new.customer,
                    &s.id,
                    &ends_at.to_iso(),
                    data,
                )
            })
        })
        .collect()
}
