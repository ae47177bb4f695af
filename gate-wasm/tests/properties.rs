//! Properties every answer keeps, over arbitrary accounts, amounts and instants.

#![allow(
    clippy::unwrap_used,
    reason = "a property that cannot set up should fail loudly"
)]

use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate_gate::{Account, Catalog, Gate, Snapshot, Timestamp, build_snapshot};

const DAY: i64 = 86_400_000;
const BASE: i64 = 1_790_000_000_000; // 2026-09-21

fn catalog() -> Catalog {
    Catalog::parse(include_str!("../../examples/catalog.toml")).unwrap()
}

const FEATURES: [&str; 7] = [
    "projects",
    "team_members",
    "storage",
    "api_calls",
    "advanced_analytics",
    "priority_support",
    "unknown",
];

fn iso(ms: i64) -> String {
    Timestamp::from_millis(ms).to_iso()
}

prop_compose! {
    fn subscription()(
        status in prop::sample::select(vec![
            "active", "trialing", "past_due", "canceled", "unpaid", "incomplete", "incomplete_expired", "paused", "new_status",
        ]),
        plan in prop::sample::select(vec!["premium", "premium_plus", "mystery"]),
        start_day in -90i64..30,
        length_days in 1i64..400,
        interval in prop::sample::select(vec!["day", "week", "month", "year"]),
        count in 1u32..4,
        cancel in any::<bool>(),
        ended_day in prop::option::of(-60i64..30),
        id in 0u32..1000,
    ) -> Value {
        let start = BASE + start_day * DAY;
        json!({
            "id": format!("sub_{id}"), "status": status,
            "current_period_start": iso(start), "current_period_end": iso(start + length_days * DAY),
            "recurring_interval": interval, "recurring_interval_count": count,
            "cancel_at_period_end": cancel, "canceled_at": null,
            "ended_at": ended_day.map(|d| iso(BASE + d * DAY)),
            "product_id": format!("prod_{plan}"),
            "product": { "id": format!("prod_{plan}"), "metadata": { "plan": plan } },
        })
    }
}

prop_compose! {
    fn grant()(
        feature in prop::sample::select(FEATURES.to_vec()),
        amount in prop_oneof![(0u64..100_000).prop_map(|n| json!(n)), Just(json!("unlimited")), Just(json!(true))],
        expires_day in prop::option::of(-30i64..60),
    ) -> Value {
        json!({ "feature": feature, "amount": amount, "expires_at": expires_day.map(|d| iso(BASE + d * DAY)) })
    }
}

prop_compose! {
    fn account()(
        subscriptions in prop::collection::vec(subscription(), 0..4),
        api_calls in 0u64..200_000,
        projects in 0u64..50,
        storage in 0u64..1_000_000_000_000,
        grants in prop::collection::vec(grant(), 0..3),
        revision in 0u64..100,
    ) -> Account {
        serde_json::from_value(json!({
            "customer": "user_prop", "subscriptions": subscriptions,
            "usage": { "api_calls": api_calls }, "gauges": { "projects": projects, "storage": storage },
            "grants": grants, "revision": revision,
        })).unwrap()
    }
}

fn instant() -> impl Strategy<Value = Timestamp> {
    (-100i64..500).prop_map(|d| Timestamp::from_millis(BASE + d * DAY / 3))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_same_inputs_give_the_same_answers(account in account(), issued in instant(), now in instant(),
                                             feature in prop::sample::select(FEATURES.to_vec()), amount in 0u64..100_000) {
        let catalog = catalog();
        let a = build_snapshot(&catalog, &account, issued);
        let b = build_snapshot(&catalog, &account, issued);
        prop_assert_eq!(&a, &b);
        let (ga, gb) = (Gate::new(&a).unwrap(), Gate::new(&b).unwrap());
        prop_assert_eq!(ga.check(feature, amount, now), gb.check(feature, amount, now));
    }

    #[test]
    fn more_usage_never_raises_remaining(account in account(), issued in instant(), now in instant(),
                                         feature in prop::sample::select(FEATURES.to_vec()),
                                         amount in 0u64..1_000, extra in 0u64..100_000) {
        let catalog = catalog();
        let mut heavier = account.clone();
        *heavier.usage.entry("api_calls".into()).or_default() += extra;
        *heavier.gauges.entry("projects".into()).or_default() += extra;
        *heavier.gauges.entry("storage".into()).or_default() += extra;
        let light = Gate::new(&build_snapshot(&catalog, &account, issued)).unwrap();
        let heavy = Gate::new(&build_snapshot(&catalog, &heavier, issued)).unwrap();
        let (l, h) = (light.check(feature, amount, now), heavy.check(feature, amount, now));
        if let (Some(l), Some(h)) = (l.remaining, h.remaining) {
            prop_assert!(h <= l, "remaining rose from {} to {} with more usage", l, h);
        }
        prop_assert!(!h.allowed || l.allowed, "more usage turned a refusal into an allowance");
    }

    #[test]
    fn a_grant_never_removes_access(account in account(), extra in grant(), issued in instant(), now in instant(),
                                    feature in prop::sample::select(FEATURES.to_vec()), amount in 0u64..100_000) {
        let catalog = catalog();
        let mut granted = account.clone();
        granted.grants.push(serde_json::from_value(extra).unwrap());
        let without = Gate::new(&build_snapshot(&catalog, &account, issued)).unwrap().check(feature, amount, now).allowed;
        let with = Gate::new(&build_snapshot(&catalog, &granted, issued)).unwrap().check(feature, amount, now).allowed;
        prop_assert!(with || !without, "a grant took access away");
    }

    #[test]
    fn snapshots_round_trip_through_json(account in account(), issued in instant()) {
        let snapshot = build_snapshot(&catalog(), &account, issued);
        let json = serde_json::to_string(&snapshot).unwrap();
        let back = Snapshot::from_json(&json).unwrap();
        prop_assert_eq!(&back, &snapshot);
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}", feature in ".{0,20}", amount in any::<u64>(), now in any::<i64>()) {
        let _ = Catalog::parse(&text);
        let _ = Gate::from_json(&text);
        let snapshot = build_snapshot(&catalog(), &Account {
            customer: text.clone(), subscriptions: vec![], usage: Default::default(),
            gauges: Default::default(), grants: vec![], revision: 0,
        }, Timestamp::from_millis(BASE));
        let gate = Gate::new(&snapshot).unwrap();
        let _ = gate.check(&feature, amount, Timestamp::from_millis(now));
    }

    #[test]
    fn arbitrary_accounts_and_instants_never_panic(account in account(), issued in any::<i64>(), now in any::<i64>(),
                                                   amount in any::<u64>()) {
        let snapshot = build_snapshot(&catalog(), &account, Timestamp::from_millis(issued));
        let gate = Gate::new(&snapshot).unwrap();
        for feature in FEATURES {
            let _ = gate.check(feature, amount, Timestamp::from_millis(now));
        }
    }
}
