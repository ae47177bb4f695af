//! `check_with_pending`: usage not yet in the snapshot counts as if it were.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde_json::{Value, json};
use tollgate_gate::{Account, Catalog, Gate, Timestamp, build_snapshot};

fn catalog() -> Catalog {
    Catalog::parse(include_str!("../../examples/catalog.toml")).unwrap()
}

fn now() -> Timestamp {
    Timestamp::parse("2026-11-25T10:00:00Z").unwrap()
}

/// A customer on `plan` ("free" or "premium") with `used` of `feature` in the snapshot.
fn gate(plan: &str, feature: &str, used: u64) -> Gate {
    let subscriptions = if plan == "premium" {
        json!([{
            "id": "sub_1", "status": "active",
            "current_period_start": "2026-11-14T09:00:00Z",
            "current_period_end": "2026-12-14T09:00:00Z",
            "recurring_interval": "month", "recurring_interval_count": 1,
            "cancel_at_period_end": false, "product_id": "prod_premium",
            "product": { "id": "prod_premium", "metadata": { "plan": "premium" } }
        }])
    } else {
        json!([])
    };
    let account: Account = serde_json::from_value(json!({
        "customer": "c",
        "subscriptions": subscriptions,
        "usage": { feature: used },
        "gauges": { feature: used },
    }))
    .unwrap();
    Gate::new(&build_snapshot(&catalog(), &account, now())).unwrap()
}

fn json(decision: tollgate_gate::Decision<'_>) -> Value {
    serde_json::to_value(decision).unwrap()
}

#[test]
fn pending_usage_turns_an_allowed_check_into_limit_reached() {
    let gate = gate("free", "api_calls", 990);
    let allowed = gate.check("api_calls", 10, now());
    assert!(allowed.allowed);
    assert_eq!(allowed.remaining, Some(0));

    let refused = gate.check_with_pending("api_calls", 10, 1, now());
    assert!(!refused.allowed);
    assert_eq!(refused.reason.as_str(), "limit_reached");
    assert_eq!(refused.used, Some(991));
    assert_eq!(refused.remaining, Some(9));
    assert_eq!(refused.upgrade.map(|p| p.key()), Some("premium"));
}

#[test]
fn pending_usage_decides_as_a_snapshot_that_holds_it() {
    let cases = [
        ("free", "api_calls"),
        ("premium", "api_calls"), // overage billed, soft limit at 80 %
        ("free", "projects"),
        ("premium", "storage"),
    ];
    for (plan, feature) in cases {
        let limit = gate(plan, feature, 0)
            .check(feature, 0, now())
            .limit
            .unwrap();
        let levels = [
            0,
            1,
            limit / 2,
            (limit * 4 / 5).saturating_sub(1),
            limit - 1,
            limit,
            limit + 3,
        ];
        for used in levels {
            let with_pending = gate(plan, feature, used);
            for pending in levels {
                let holding = gate(plan, feature, used + pending);
                for amount in [0, 1, 2, limit / 5, limit] {
                    assert_eq!(
                        json(with_pending.check_with_pending(feature, amount, pending, now())),
                        json(holding.check(feature, amount, now())),
                        "{plan} {feature}: used {used}, pending {pending}, amount {amount}"
                    );
                }
            }
        }
    }
}

#[test]
fn without_pending_usage_the_check_is_unchanged() {
    let gate = gate("premium", "api_calls", 45_000);
    let later = Timestamp::parse("2027-03-01T00:00:00Z").unwrap();
    for feature in ["api_calls", "projects", "advanced_analytics", "nope"] {
        for at in [now(), later] {
            assert_eq!(
                json(gate.check_with_pending(feature, 7, 0, at)),
                json(gate.check(feature, 7, at))
            );
        }
    }
}

#[test]
fn pending_usage_counts_in_the_period_current_at_now() {
    let gate = gate("free", "api_calls", 990);
    // On the default plan the count resets with the calendar month: in December the
    // snapshot's 990 no longer apply, the pending units (counted in December) do.
    let december = Timestamp::parse("2026-12-02T00:00:00Z").unwrap();
    let decision = gate.check_with_pending("api_calls", 1, 5, december);
    assert!(decision.allowed);
    assert_eq!(decision.used, Some(5));
    assert_eq!(decision.remaining, Some(994));
}

#[test]
fn booleans_ignore_pending_usage() {
    let gate = gate("premium", "api_calls", 0);
    let decision = gate.check_with_pending("advanced_analytics", 1, 1_000, now());
    assert!(decision.allowed);
    assert_eq!(decision.used, None);
    assert_eq!(
        json(decision),
        json(gate.check("advanced_analytics", 1, now()))
    );
}
