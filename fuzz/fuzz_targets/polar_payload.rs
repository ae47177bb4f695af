//! Polar's webhook bodies, as `POST /webhooks/polar` parses them once verified.
//!
//! Properties: parsing is total (errors are values) and repeatable; `invalid_json` only for
//! bodies that are not JSON; an accepted object reads the same through reconciliation's
//! path (`Object::from_api`) as through the webhook's; and what is accepted for storage is
//! JSON that PostgreSQL's `jsonb` holds (valid Unicode, no NUL character), so an accepted
//! delivery can always be applied.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tollgate_sync::fuzzing::{
    embedded_objects, is_invalid_json, parse_polar_api_object, parse_polar_event,
};

/// Whether PostgreSQL's `jsonb` stores `value`: it refuses the NUL character in any string.
fn jsonb_holds(value: &Value) -> bool {
    match value {
        Value::String(text) => !text.contains('\0'),
        Value::Array(items) => items.iter().all(jsonb_holds),
        Value::Object(fields) => fields
            .iter()
            .all(|(k, v)| !k.contains('\0') && jsonb_holds(v)),
        _ => true,
    }
}

fuzz_target!(|body: &[u8]| {
    // The handler refuses a body that is not UTF-8 (`invalid_json`) before it parses it.
    if std::str::from_utf8(body).is_err() {
        return;
    }
    let parsed = parse_polar_event(body);
    assert_eq!(parsed.as_ref().ok(), parse_polar_event(body).as_ref().ok());
    let json = serde_json::from_slice::<Value>(body);
    let event = match parsed {
        Err(error) => {
            let _ = error.to_string();
            if is_invalid_json(&error) {
                assert!(json.is_err(), "invalid_json for JSON: {error}");
            }
            return;
        }
        Ok(event) => event,
    };
    // The whole body is stored as text and read again by this parser only; the object is what
    // goes into `jsonb`, so the object is what must be strict JSON.
    if let Ok(json) = &json {
        assert_eq!(json["type"].as_str(), Some(event.event_type.as_str()));
    }
    let Some(object) = event.object else {
        assert!(parse_polar_api_object(&event.event_type, Value::Null).is_none());
        return;
    };
    let raw: Value = serde_json::from_str(&object.raw).expect("a stored object is JSON");
    assert!(
        jsonb_holds(&raw),
        "accepted, but PostgreSQL cannot store it: {}",
        object.raw
    );
    let data = raw.clone();
    let from_api = parse_polar_api_object(&event.event_type, raw)
        .expect("a type with an object")
        .expect("the same object read from Polar's API parses too");
    assert_eq!(from_api.kind, object.kind);
    assert_eq!(from_api.id, object.id);
    assert_eq!(from_api.customer_key, object.customer_key);
    assert_eq!(from_api.version_at, object.version_at);
    if object.kind == "Subscription" {
        let _ = serde_json::from_str::<tollgate_gate::polar::Subscription>(&object.raw);
    }
    let (customer, product) = embedded_objects(&object.raw);
    if let Some(customer) = customer {
        assert_eq!(data["customer"]["id"].as_str(), Some(customer.as_str()));
    }
    if let Some(product) = product {
        assert_eq!(data["product"]["id"].as_str(), Some(product.as_str()));
    }
});
