//! Clerk's user events, as `POST /webhooks/clerk` reads them once verified.
//!
//! Properties: reading is total (a refusal is a message, never a panic); `user.*` events
//! are acted on exactly when `data.id` is a non-empty string, and then for that user; the
//! e-mail sent to Polar is one of the event's addresses; other types are acknowledged and
//! ignored.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tollgate_sync::fuzzing::parse_clerk_event;

fuzz_target!(|body: &[u8]| {
    let parsed = parse_clerk_event(body);
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        assert!(parsed.is_err());
        return;
    };
    let kind = json.get("type").and_then(Value::as_str);
    let data = json.get("data").unwrap_or(&Value::Null);
    let id = data
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty());
    let acted_on = matches!(kind, Some("user.created" | "user.updated" | "user.deleted"));
    match parsed {
        Err(message) => {
            assert!(!message.is_empty());
            assert!(
                kind.is_none() || (acted_on && id.is_none()),
                "refused: {message}"
            );
        }
        Ok((event_type, user)) => {
            assert_eq!(Some(event_type.as_str()), kind);
            match user {
                None => assert!(!acted_on),
                Some((user, email, name)) => {
                    assert!(acted_on);
                    assert_eq!(Some(user.as_str()), id);
                    if let Some(email) = email {
                        let addresses = data["email_addresses"].as_array().expect("a list");
                        assert!(
                            addresses
                                .iter()
                                .any(|a| a["email_address"].as_str() == Some(email.as_str()))
                        );
                    }
                    if let Some(name) = name {
                        assert!(!name.trim().is_empty());
                    }
                }
            }
        }
    }
});
