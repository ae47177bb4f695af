//! The engine's account JSON (`Account`, the input of `build_snapshot`: Polar's subscriptions,
//! usage, gauges, grants), against the example catalog.
//!
//! Properties: reading is total; an account written and read back is the same account; the
//! snapshot built from it is the same every time, reads back from its JSON with the same
//! entitlements, compiles, and answers every feature at every instant tried.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tollgate_gate::{Account, Catalog, Gate, Snapshot, Timestamp, build_snapshot};

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::parse(include_str!("../../examples/catalog.toml")).expect("the example catalog")
});

/// 1970, the conformance vectors' 2026-11-25T10:00:00Z, and 2100.
const NOWS: [i64; 3] = [0, 1_795_600_800_000, 4_102_444_800_000];

fuzz_target!(|data: &[u8]| {
    let Ok(account) = serde_json::from_slice::<Account>(data) else {
        return;
    };
    let json = serde_json::to_string(&account).expect("an account serialises");
    let again: Account = serde_json::from_str(&json).expect("an account reads back");
    assert_eq!(again, account, "{json}");

    for now in NOWS.map(Timestamp::from_millis) {
        let snapshot = build_snapshot(&CATALOG, &account, now);
        assert_eq!(snapshot, build_snapshot(&CATALOG, &account, now));
        let text = serde_json::to_string(&snapshot).expect("a snapshot serialises");
        let read = Snapshot::from_json(&text).expect("a built snapshot reads back");
        assert!(read.same_entitlements(&snapshot), "{text}");
        let gate = Gate::new(&snapshot).expect("a built snapshot compiles");
        for feature in CATALOG.features() {
            for amount in [0, 1, u64::MAX] {
                let decision = gate.check(&feature.key, amount, now);
                serde_json::to_string(&decision).expect("a decision serialises");
            }
        }
    }
});
