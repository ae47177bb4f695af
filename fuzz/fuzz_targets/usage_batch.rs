//! `POST /v1/usage` bodies, read and judged before the database (the example catalog).
//!
//! Properties: reading is total; a body is refused whole only when it is not
//! `{"events": [...]}`; otherwise every event gets exactly one verdict, in order: accepted
//! events are within the documented bounds, refusals name their index with a stable code.

#![no_main]

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tollgate_gate::{Catalog, FeatureType};
use tollgate_sync::fuzzing::{MAX_USAGE_ID_LEN, judge_usage_batch};

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::parse(include_str!("../../examples/catalog.toml")).expect("the example catalog")
});

const CODES: [&str; 6] = [
    "invalid_event",
    "invalid_amount",
    "unknown_feature",
    "not_metered",
    "timestamp_in_future",
    "timestamp_before_period",
];

fuzz_target!(|body: &[u8]| {
    let now = DateTime::<Utc>::from_timestamp(1_795_600_800, 0).expect("2026-11-25");
    let judged = judge_usage_batch(body, &CATALOG, now);
    assert_eq!(judged, judge_usage_batch(body, &CATALOG, now));
    let sent = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|value| value.get("events").and_then(Value::as_array).map(Vec::len));
    let events = match judged {
        Err(refusal) => {
            assert!(!refusal.is_empty());
            return;
        }
        Ok(events) => events,
    };
    assert_eq!(Some(events.len()), sent, "one verdict per event");
    for (index, verdict) in events.iter().enumerate() {
        match verdict {
            Ok(event) => {
                for id in [&event.id, &event.customer] {
                    assert!(!id.trim().is_empty() && id.len() <= MAX_USAGE_ID_LEN);
                }
                assert!((1..=i64::MAX as u64).contains(&event.amount));
                let feature = CATALOG.feature(&event.feature).expect("a catalog feature");
                assert_eq!(feature.kind, FeatureType::Metered);
                assert!(event.timestamp <= now + chrono::Duration::minutes(5));
            }
            Err((at, code, message)) => {
                assert_eq!(*at, index);
                assert!(CODES.contains(&code.as_str()), "code {code}");
                assert!(message.starts_with(&format!("event {index}")), "{message}");
            }
        }
    }
});
