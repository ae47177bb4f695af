//! Text PostgreSQL can store: its `text` and `jsonb` refuse U+0000, so a request carrying it
//! is refused as the caller's fault (400) before it reaches the database, instead of failing
//! there as an internal error.

use serde_json::Value;

/// Whether `text` can be stored.
pub(crate) fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// Whether every string of `value`, keys included, can be stored.
pub(crate) fn storable_json(value: &Value) -> bool {
    match value {
        Value::String(text) => storable(text),
        Value::Array(items) => items.iter().all(storable_json),
        Value::Object(map) => map
            .iter()
            .all(|(key, value)| storable(key) && storable_json(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nul_anywhere_is_not_storable() {
        assert!(storable_json(&json!({"a": ["b", 1, null, {"c": "d"}]})));
        assert!(!storable_json(&json!({"a": ["b\u{0}"]})));
        assert!(!storable_json(&json!({"a\u{0}": 1})));
        assert!(!storable("x\u{0}"));
    }
}
