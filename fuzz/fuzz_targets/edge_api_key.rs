//! The edge worker's reading of credentials (`Credential::from_header`, `cookie_value`) and
//! the API-key hash it looks keys up by, natively.
//!
//! Input: `Authorization header \n Cookie header \n cookie name`. Properties: reading is total
//! and every refusal is a 401 with a stable code; an accepted credential is a non-empty,
//! trimmed part of the header within the length limit, a JWT exactly when it is shaped like
//! one; a cookie's value is a non-empty part of its header; and every key hashes to a KV key
//! the sync worker writes (`key:v1:` and 64 lowercase hex digits).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_edge::identity::api_key::{is_key_hash, key_hash, kv_key};
use tollgate_edge::identity::jwt::looks_like_jwt;
use tollgate_edge::identity::{Credential, MAX_CREDENTIAL_LEN, cookie_value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(3, '\n');
    let header = lines.next().unwrap_or_default();
    let cookie = lines.next().unwrap_or_default();
    let name = lines.next().unwrap_or("__session");

    match Credential::from_header(Some(header)) {
        Err(error) => {
            assert_eq!(error.status(), 401);
            assert!(!error.code().is_empty());
        }
        Ok(credential) => {
            let (value, jwt) = match credential {
                Credential::ApiKey(key) => (key, false),
                Credential::Jwt(token) => (token, true),
            };
            assert!(!value.is_empty() && value.len() <= MAX_CREDENTIAL_LEN);
            assert_eq!(value, value.trim());
            assert!(header.contains(value));
            assert_eq!(jwt, looks_like_jwt(value));
            let hash = key_hash(value);
            assert!(is_key_hash(&hash));
            assert_eq!(kv_key(&hash), format!("key:v1:{hash}"));
        }
    }
    if let Some(value) = cookie_value(cookie, name) {
        assert!(!value.is_empty());
        assert!(!value.contains(';'));
        assert!(cookie.contains(value));
    }
});
