//! The catalog TOML (`Catalog::parse`), which the sync worker and every engine build read.
//!
//! Properties: parsing is total; an accepted catalog written back as TOML parses to the same
//! catalog (nothing read is lost or changed by validation); and the engine builds a snapshot
//! from it that compiles and answers every feature at several instants.

#![no_main]

use std::fmt::Write as _;

use libfuzzer_sys::fuzz_target;
use tollgate_gate::{
    Account, Allowance, Catalog, FeatureType, Gate, Limit, OnStale, Overage, Reset, Snapshot,
    Timestamp, build_snapshot,
};

/// A TOML basic string: JSON's escapes, and DEL escaped too (TOML forbids it raw).
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn limit(value: Limit) -> String {
    match value {
        Limit::Unlimited => quoted("unlimited"),
        Limit::Finite(n) if i64::try_from(n).is_ok() => n.to_string(),
        // TOML integers are 64-bit signed; a size string carries the rest.
        Limit::Finite(n) => quoted(&n.to_string()),
    }
}

/// The catalog written back in the catalog's TOML format.
fn to_toml(catalog: &Catalog) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "default_plan = {}",
        quoted(&catalog.default_plan().key)
    );
    let _ = writeln!(out, "stale_after_hours = {}", catalog.stale_after_hours());
    for feature in catalog.features() {
        let _ = writeln!(out, "[features.{}]", quoted(&feature.key));
        let kind = match feature.kind {
            FeatureType::Gauge => "gauge",
            FeatureType::Metered => "metered",
            FeatureType::Boolean => "boolean",
        };
        let _ = writeln!(out, "type = {}", quoted(kind));
        if let Some(unit) = &feature.unit {
            let _ = writeln!(out, "unit = {}", quoted(unit));
        }
        if let Some(reset) = feature.reset {
            let reset = match reset {
                Reset::BillingPeriod => "billing_period",
                Reset::Month => "month",
                Reset::Day => "day",
                Reset::Never => "never",
            };
            let _ = writeln!(out, "reset = {}", quoted(reset));
        }
        let on_stale = match feature.on_stale {
            OnStale::LastKnownGood => "last_known_good",
            OnStale::Open => "open",
            OnStale::Closed => "closed",
        };
        let _ = writeln!(out, "on_stale = {}", quoted(on_stale));
    }
    for plan in catalog.plans() {
        let key = quoted(&plan.key);
        let _ = writeln!(out, "[plans.{key}]");
        let _ = writeln!(out, "name = {}", quoted(&plan.name));
        let _ = writeln!(out, "rank = {}", plan.rank);
        let products: Vec<String> = plan.polar_products.iter().map(|p| quoted(p)).collect();
        let _ = writeln!(out, "polar_products = [{}]", products.join(", "));
        let _ = writeln!(out, "grace_days = {}", plan.grace_days);
        let _ = writeln!(out, "[plans.{key}.polar_metadata]");
        for (name, value) in &plan.polar_metadata {
            let _ = writeln!(out, "{} = {}", quoted(name), quoted(value));
        }
        let _ = writeln!(out, "[plans.{key}.limits]");
        for (feature, entry) in &plan.limits {
            let amount = match entry.limit {
                _ if entry.seats => quoted("seats"),
                Allowance::Enabled => "true".to_owned(),
                Allowance::Units(units) => limit(units),
            };
            let overage = match entry.overage {
                Overage::Block => "block",
                Overage::Bill => "bill",
                Overage::Warn => "warn",
            };
            let mut table = format!("{{ limit = {amount}, overage = {}", quoted(overage));
            if let Some(warn_at) = entry.warn_at {
                let _ = write!(table, ", warn_at = {:?}", warn_at.as_ratio());
            }
            table.push_str(" }");
            let value = if entry.limit == Allowance::Enabled {
                amount
            } else {
                table
            };
            let _ = writeln!(out, "{} = {value}", quoted(feature));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = match Catalog::parse(text) {
        Ok(catalog) => catalog,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    let written = to_toml(&catalog);
    match Catalog::parse(&written) {
        Ok(again) => assert_eq!(again, catalog, "written back as\n{written}"),
        Err(error) => panic!("the catalog written back does not parse: {error}\n{written}"),
    }

    let account = Account {
        customer: "fuzz".to_owned(),
        subscriptions: Vec::new(),
        usage: Default::default(),
        gauges: Default::default(),
        grants: Vec::new(),
        revision: 1,
    };
    for now in [0, 1_790_000_000_000, 4_102_444_800_000] {
        let now = Timestamp::from_millis(now);
        let snapshot = build_snapshot(&catalog, &account, now);
        let json = serde_json::to_string(&snapshot).expect("a snapshot serialises");
        let read = Snapshot::from_json(&json).expect("a built snapshot reads back");
        assert!(read.same_entitlements(&snapshot));
        let gate = Gate::new(&snapshot).expect("a built snapshot compiles");
        for feature in catalog.features() {
            let decision = gate.check(&feature.key, 1, now);
            let _ = serde_json::to_string(&decision);
        }
    }
});
