//! A realistic customer for tests and benchmarks: a 20-feature catalog and a Premium subscriber.

#![allow(
    clippy::expect_used,
    reason = "test fixtures: a broken fixture should fail loudly"
)]

use tollgate_gate::{Account, Catalog, Timestamp};

/// Premium subscriber's period: 2026-11-14 → 2026-12-14.
pub const NOW: &str = "2026-11-25T10:00:00Z";

/// The example catalog's features plus 14 more, 20 in all.
pub fn catalog_20() -> Catalog {
    let mut toml = String::from(include_str!("../../../examples/catalog.toml"));
    let extra: Vec<String> = (0..14).map(|i| format!("extra_{i:02}")).collect();
    let features: String = extra
        .iter()
        .enumerate()
        .map(|(i, key)| match i % 3 {
            0 => format!("{key} = {{ type = \"metered\", reset = \"month\" }}\n"),
            1 => format!("{key} = {{ type = \"gauge\" }}\n"),
            _ => format!("{key} = {{ type = \"boolean\" }}\n"),
        })
        .collect();
    toml = toml.replace("[features]\n", &format!("[features]\n{features}"));
    let limits: String = extra
        .iter()
        .enumerate()
        .map(|(i, key)| {
            if i % 3 == 2 {
                format!("{key} = true\n")
            } else {
                format!("{key} = {}\n", 100 * (i + 1))
            }
        })
        .collect();
    toml = toml.replace(
        "[plans.premium.limits]\n",
        &format!("[plans.premium.limits]\n{limits}"),
    );
    Catalog::parse(&toml).expect("the 20-feature catalog parses")
}

pub fn premium_account() -> Account {
    serde_json::from_value(serde_json::json!({
        "customer": "user_123",
        "subscriptions": [{
            "id": "sub_1", "status": "active",
            "current_period_start": "2026-11-14T09:00:00Z", "current_period_end": "2026-12-14T09:00:00Z",
            "recurring_interval": "month", "recurring_interval_count": 1,
            "cancel_at_period_end": false, "canceled_at": null, "ended_at": null,
            "product_id": "prod_premium",
            "product": { "id": "prod_premium", "name": "Premium", "metadata": { "plan": "premium" } }
        }],
        "usage": { "api_calls": 12_345 },
        "gauges": { "projects": 3, "storage": 1_200_000_000 },
        "grants": [{ "feature": "api_calls", "amount": 5000, "expires_at": "2026-12-31T00:00:00Z" }],
        "revision": 7
    }))
    .expect("the account parses")
}

pub fn now() -> Timestamp {
    Timestamp::parse(NOW).expect("NOW is RFC 3339")
}
