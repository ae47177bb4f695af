//! The engine's snapshot JSON, as the edge reads it from Workers KV and the npm package from
//! its caller (`Gate::from_json`).
//!
//! Properties: reading is total (a refusal has a stable code); a snapshot the gate accepts
//! answers every feature it names, and any other, at every instant and amount tried; and the
//! snapshot written back as JSON answers exactly the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gate::{Gate, Snapshot, Timestamp};

const NOWS: [i64; 4] = [i64::MIN, 0, 1_795_600_800_000, i64::MAX];
const AMOUNTS: [u64; 3] = [0, 1, u64::MAX];

fn answers(gate: &Gate, features: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for now in NOWS.map(Timestamp::from_millis) {
        for feature in features {
            for amount in AMOUNTS {
                let decision = gate.check(feature, amount, now);
                out.push(serde_json::to_string(&decision).expect("a decision serialises"));
            }
        }
        let _ = gate.plan_at(now);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let gate = match Gate::from_json(text) {
        Ok(gate) => gate,
        Err(error) => {
            assert!(!error.code().is_empty());
            return;
        }
    };
    let mut features: Vec<String> = gate.feature_keys().map(str::to_owned).collect();
    features.push("not_in_the_snapshot".to_owned());
    let first = answers(&gate, &features);

    let snapshot = Snapshot::from_json(text).expect("what the gate reads is a snapshot");
    let written = serde_json::to_string(&snapshot).expect("a snapshot serialises");
    let again = Gate::from_json(&written).expect("a snapshot written back compiles");
    assert_eq!(answers(&again, &features), first, "{written}");
});
