//! Seat limits in the snapshot: what a seat plan writes, for readers with and without seat
//! limits, and the warning when a seat plan's subscription has no seats.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use serde_json::{Value, json};
use tollgate_gate::{Account, Catalog, Gate, Timestamp, build_snapshot};

const CATALOG: &str = r#"
default_plan = "free"
[features]
team_members = { type = "gauge" }
[plans.free]
name = "Free"
rank = 0
limits = { team_members = 1 }
[plans.team]
name = "Team"
rank = 1
polar_metadata = { plan = "team_seats" }
limits = { team_members = "seats" }
[plans.big_team]
name = "Big Team"
rank = 2
polar_metadata = { plan = "big_team" }
limits = { team_members = "seats" }
"#;

fn account(units: Value) -> Account {
    serde_json::from_value(json!({
        "customer": "user_1",
        "subscriptions": [{
            "id": "sub_1", "status": "active",
            "current_period_start": "2026-11-01T00:00:00Z", "current_period_end": "2026-12-01T00:00:00Z",
            "product_id": "prod_team", "units": units, "seats": units,
            "product": { "id": "prod_team", "name": "Team Seats", "metadata": { "plan": "team_seats" } }
        }],
        "gauges": { "team_members": 2 }
    }))
    .unwrap()
}

fn now() -> Timestamp {
    Timestamp::parse("2026-11-10T00:00:00Z").unwrap()
}

#[test]
fn the_snapshot_carries_the_units_and_the_resolved_limit() {
    let catalog = Catalog::parse(CATALOG).unwrap();
    let snapshot = build_snapshot(&catalog, &account(json!(3)), now());
    let json = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(json["subscriptions"][0]["units"], 3);
    let feature = &json["features"]["team_members"];
    assert_eq!(feature["limit"], 3);
    assert_eq!(
        feature["plans"]["team"],
        json!({ "limit": 3, "seats": true })
    );
    assert_eq!(
        feature["plans"]["big_team"],
        json!({ "limit": 0, "seats": true })
    );
    assert_eq!(feature["plans"]["free"], json!({ "limit": 1 }));
    assert!(snapshot.warnings.is_empty(), "{:?}", snapshot.warnings);
}

#[test]
fn a_reader_without_seat_limits_reads_the_units_at_issue() {
    let catalog = Catalog::parse(CATALOG).unwrap();
    let mut json =
        serde_json::to_value(build_snapshot(&catalog, &account(json!(3)), now())).unwrap();
    // What an engine that predates seat limits keeps of the document: it ignores unknown fields.
    json["subscriptions"][0]
        .as_object_mut()
        .unwrap()
        .remove("units");
    for plan in ["team", "big_team"] {
        json["features"]["team_members"]["plans"][plan]
            .as_object_mut()
            .unwrap()
            .remove("seats");
    }
    let gate = Gate::from_json(&json.to_string()).unwrap();
    let decision = gate.check("team_members", 1, now());
    assert!(decision.allowed);
    assert_eq!(decision.limit, Some(3));
}

#[test]
fn a_seat_plan_without_units_warns_and_allows_nothing() {
    let catalog = Catalog::parse(CATALOG).unwrap();
    let snapshot = build_snapshot(&catalog, &account(Value::Null), now());
    let codes: Vec<_> = snapshot.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(codes, ["missing_units"]);
    assert!(snapshot.warnings[0].message.contains("sub_1"));
    let gate = Gate::new(&snapshot).unwrap();
    let decision = gate.check("team_members", 1, now());
    assert!(!decision.allowed);
    assert_eq!(decision.limit, Some(0));
}
