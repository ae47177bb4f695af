//! `metered_periods` and `Gate::period` give the periods `build_snapshot` and `check` use.
//!
//! Checked by hand across the boundaries that move a period (renewal, a `past_due` period that
//! does not roll over, a plan that ends, a new day or month), and against every account of the
//! conformance vectors at every instant they name.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use tollgate_gate::{
    Account, Catalog, Gate, Period, Snapshot, Timestamp, build_snapshot, metered_periods,
};

const CATALOG: &str = r#"
default_plan = "free"
[features]
api_calls = { type = "metered", reset = "billing_period" }
exports   = { type = "metered", reset = "month" }
emails    = { type = "metered", reset = "day" }
seats     = { type = "metered", reset = "never" }
projects  = { type = "gauge" }
sso       = { type = "boolean" }
[plans.free]
name = "Free"
rank = 0
limits = { api_calls = 100, exports = 1, emails = 5, seats = 1, projects = 1 }
[plans.premium]
name = "Premium"
rank = 1
polar_metadata = { plan = "premium" }
grace_days = 7
limits = { api_calls = 1000, exports = 10, emails = 50, seats = 5, projects = 10, sso = true }
"#;

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn period(start: Option<&str>, resets_at: Option<&str>) -> Period {
    Period {
        start: start.map(at),
        resets_at: resets_at.map(at),
    }
}

fn account(status: &str, cancel_at_period_end: bool) -> Account {
    serde_json::from_value(json!({
        "customer": "c",
        "subscriptions": [{
            "id": "sub_1", "status": status,
            "current_period_start": "2026-11-14T09:00:00Z",
            "current_period_end": "2026-12-14T09:00:00Z",
            "recurring_interval": "month", "recurring_interval_count": 1,
            "cancel_at_period_end": cancel_at_period_end,
            "product_id": "prod_premium",
            "product": { "id": "prod_premium", "metadata": { "plan": "premium" } }
        }],
        "usage": { "api_calls": 12 }
    }))
    .unwrap()
}

/// The periods a snapshot built at `now` records, by feature.
fn snapshot_periods(snapshot: &Snapshot) -> Vec<(String, Period)> {
    snapshot
        .features
        .iter()
        .filter(|(_, f)| f.reset.is_some())
        .map(|(key, f)| {
            let period = Period {
                start: f.period_start,
                resets_at: f.resets_at,
            };
            (key.clone(), period)
        })
        .collect()
}

/// `metered_periods` at `now` equals the snapshot built at `now`; the gate compiled from a
/// snapshot issued at `issued_at` gives, at `now`, the periods its checks judge by, and the
/// same as `metered_periods`.
fn assert_agree(catalog: &Catalog, account: &Account, issued_at: Timestamp, now: Timestamp) {
    let periods = metered_periods(catalog, account, now);
    let expected = snapshot_periods(&build_snapshot(catalog, account, now));
    let actual: Vec<(String, Period)> = periods.iter().map(|(k, p)| (k.to_owned(), p)).collect();
    assert_eq!(actual, expected, "metered_periods at {now}");

    let gate = Gate::new(&build_snapshot(catalog, account, issued_at)).unwrap();
    for feature in catalog.features() {
        let from_gate = gate.period(&feature.key, now);
        assert_eq!(
            from_gate.map(|p| p.resets_at),
            feature
                .reset
                .map(|_| gate.check(&feature.key, 0, now).resets_at),
            "Gate::period({}) issued {issued_at}, at {now}",
            feature.key
        );
        if now >= issued_at {
            // Subscriptions only ever stop entitling, so the snapshot still holds every one
            // that entitles at `now`: the gate picks the same source as the account does.
            assert_eq!(
                from_gate,
                periods.get(&feature.key),
                "{} at {now}",
                feature.key
            );
        }
    }
}

#[test]
fn periods_follow_the_subscription_across_its_boundaries() {
    let catalog = Catalog::parse(CATALOG).unwrap();
    let active = account("active", false);
    let periods = |now| metered_periods(&catalog, &active, at(now));

    let during = periods("2026-12-14T08:59:59.999Z");
    assert_eq!(
        during.get("api_calls"),
        Some(period(
            Some("2026-11-14T09:00:00Z"),
            Some("2026-12-14T09:00:00Z")
        ))
    );
    assert_eq!(
        during.get("exports"),
        Some(period(
            Some("2026-12-01T00:00:00Z"),
            Some("2027-01-01T00:00:00Z")
        ))
    );
    assert_eq!(
        during.get("emails"),
        Some(period(
            Some("2026-12-14T00:00:00Z"),
            Some("2026-12-15T00:00:00Z")
        ))
    );
    assert_eq!(during.get("seats"), Some(period(None, None)));
    assert_eq!(during.get("projects"), None, "gauges have no period");
    assert_eq!(during.get("sso"), None, "booleans have no period");
    assert_eq!(during.get("nope"), None);
    assert_eq!(during.iter().len(), 4);

    // At the period end an active subscription is assumed renewed, two months on likewise.
    assert_eq!(
        periods("2026-12-14T09:00:00Z").get("api_calls"),
        Some(period(
            Some("2026-12-14T09:00:00Z"),
            Some("2027-01-14T09:00:00Z")
        ))
    );
    assert_eq!(
        periods("2027-02-20T00:00:00Z").get("api_calls"),
        Some(period(
            Some("2027-02-14T09:00:00Z"),
            Some("2027-03-14T09:00:00Z")
        ))
    );

    // past_due keeps its last period, with no reset, while its grace lasts.
    let past_due = account("past_due", false);
    assert_eq!(
        metered_periods(&catalog, &past_due, at("2026-12-16T00:00:00Z")).get("api_calls"),
        Some(period(Some("2026-11-14T09:00:00Z"), None))
    );
    // Once the plan has ended, the default plan counts calendar months.
    let ending = account("active", true);
    assert_eq!(
        metered_periods(&catalog, &ending, at("2026-12-20T00:00:00Z")).get("api_calls"),
        Some(period(
            Some("2026-12-01T00:00:00Z"),
            Some("2027-01-01T00:00:00Z")
        ))
    );
}

#[test]
fn periods_agree_with_snapshots_and_gates_at_every_boundary() {
    let catalog = Catalog::parse(CATALOG).unwrap();
    let instants = [
        "2026-11-20T00:00:00Z",
        "2026-11-30T23:59:59.999Z",
        "2026-12-01T00:00:00Z",
        "2026-12-14T08:59:59.999Z",
        "2026-12-14T09:00:00Z",
        "2026-12-21T08:59:59.999Z",
        "2026-12-21T09:00:00Z",
        "2027-03-01T00:00:00Z",
    ];
    for (status, cancel) in [
        ("active", false),
        ("active", true),
        ("trialing", false),
        ("past_due", false),
        ("canceled", false),
    ] {
        let account = account(status, cancel);
        for issued in instants {
            for now in instants.iter().filter(|now| **now >= issued) {
                assert_agree(&catalog, &account, at(issued), at(now));
            }
        }
    }
}

#[test]
fn periods_agree_for_every_conformance_vector() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("tests").join("conformance");
    let mut cases = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let file: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        for case in file["cases"].as_array().unwrap() {
            if case.get("account").is_none() {
                continue;
            }
            let toml = match (
                case.get("catalog").or(file.get("catalog")),
                case.get("catalog_file").or(file.get("catalog_file")),
            ) {
                (Some(Value::String(toml)), _) => toml.clone(),
                (_, Some(Value::String(path))) => fs::read_to_string(root.join(path)).unwrap(),
                _ => panic!("{}: no catalog", path.display()),
            };
            let catalog = Catalog::parse(&toml).unwrap();
            let account: Account = serde_json::from_value(case["account"].clone()).unwrap();
            let issued_at = at(case["issued_at"].as_str().unwrap());
            let nows = case["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c.get("now").and_then(Value::as_str))
                .chain(case["now"].as_str());
            for now in nows.map(at) {
                assert_agree(&catalog, &account, issued_at, now);
            }
            cases += 1;
        }
    }
    assert!(cases > 50, "only {cases} cases read");
}
