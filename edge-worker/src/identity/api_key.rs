//! API keys: KV stores `key:v1:<lowercase hex SHA-256 of the key>` → customer id, so a leak of
//! KV does not leak usable keys.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of the key, as the sync worker publishes it.
pub fn key_hash(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// The KV key holding the customer id of an API key with this hash.
pub fn kv_key(hash: &str) -> String {
    format!("key:v1:{hash}")
}

/// Whether `s` is a key hash as [`key_hash`] writes it (64 lowercase hex digits).
pub fn is_key_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_sha256sum() {
        // printf 'tg_test_key' | sha256sum
        assert_eq!(
            key_hash("tg_test_key"),
            "bd0edab034bd69aab2e87b0abd396c2612156d394a958310d04348b35f6c224a"
        );
        assert_eq!(
            key_hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(kv_key("ab"), "key:v1:ab");
    }

    #[test]
    fn recognises_key_hashes() {
        assert!(is_key_hash(&key_hash("x")));
        assert!(!is_key_hash(&key_hash("x").to_uppercase()));
        assert!(!is_key_hash("abc"));
    }
}
