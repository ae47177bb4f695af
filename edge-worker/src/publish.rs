//! `PUT /_tollgate/snapshots`: the sync worker's bulk write of snapshots and API-key entries.
//!
//! Body: `{"snapshots": [<snapshot>...], "keys": [{"hash": "<sha256 hex>", "customer": "c" | null}]}`
//! (`customer: null` revokes a key). The whole body is validated before anything is written:
//! every snapshot must compile, every key hash be 64 lowercase hex digits; one bad item refuses
//! the request (400, naming the item) and writes nothing. Snapshots are stored exactly as the
//! engine serialises them. A snapshot whose revision is not newer than the one KV holds is
//! ignored and reported, so a late or repeated publish can never roll a customer back.
//! Authentication: the `X-Tollgate-Secret` header must equal `TOLLGATE_INTERNAL_SECRET`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tollgate_gate::{Gate, Snapshot};

use crate::identity::api_key::is_key_hash;

/// Header carrying the internal shared secret.
pub const SECRET_HEADER: &str = "X-Tollgate-Secret";
/// The largest body accepted.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// The most snapshots, and the most keys, in one request.
pub const MAX_ITEMS: usize = 10_000;
/// Workers KV's limit on key length, in bytes.
const MAX_KV_KEY_BYTES: usize = 512;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    #[error("the body is not a publish request: {0}")]
    Malformed(String),
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("more than {MAX_ITEMS} {0} in one request")]
    TooMany(&'static str),
    #[error("snapshots[{index}]: {message}")]
    InvalidSnapshot {
        index: usize,
        code: &'static str,
        message: String,
    },
    #[error("keys[{index}]: {message}")]
    InvalidKey { index: usize, message: String },
}

impl PublishError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_publish_request",
            Self::TooLarge => "body_too_large",
            Self::TooMany(_) => "too_many_items",
            Self::InvalidSnapshot { code, .. } => code,
            Self::InvalidKey { .. } => "invalid_key_entry",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge => 413,
            _ => 400,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    #[serde(default)]
    snapshots: Vec<serde_json::Value>,
    #[serde(default)]
    keys: Vec<KeyEntry>,
}

/// An API-key entry: the key's hash and its customer, or `None` to revoke it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    pub hash: String,
    pub customer: Option<String>,
}

/// A snapshot ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotWrite {
    pub customer: String,
    pub revision: u64,
    pub json: String,
}

/// A validated publish request.
#[derive(Debug, Default)]
pub struct Publication {
    /// One per customer: the highest revision the request carries.
    pub snapshots: Vec<SnapshotWrite>,
    pub keys: Vec<KeyEntry>,
}

/// The answer: what was written and what was ignored, and why.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct PublishReport {
    pub written: Vec<String>,
    pub ignored: Vec<Ignored>,
    #[serde(rename = "keysWritten")]
    pub keys_written: usize,
    #[serde(rename = "keysRevoked")]
    pub keys_revoked: usize,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Ignored {
    pub customer: String,
    pub revision: u64,
    /// The revision KV already holds.
    pub stored: u64,
}

/// Whether a revision read from KV should be overwritten by `incoming`.
pub fn supersedes(incoming: u64, stored: Option<u64>) -> bool {
    stored.is_none_or(|stored| incoming > stored)
}

/// Compares the presented secret with the configured one without leaking, through timing,
/// how much of it matched: both are hashed first, so the comparison is over digests.
pub fn secret_matches(presented: Option<&str>, configured: Option<&str>) -> bool {
    match (presented, configured) {
        (Some(p), Some(c)) if !c.is_empty() => Sha256::digest(p) == Sha256::digest(c),
        _ => false,
    }
}

impl Publication {
    pub fn parse(body: &[u8]) -> Result<Self, PublishError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(PublishError::TooLarge);
        }
        let raw: RawRequest =
            serde_json::from_slice(body).map_err(|e| PublishError::Malformed(e.to_string()))?;
        if raw.snapshots.len() > MAX_ITEMS {
            return Err(PublishError::TooMany("snapshots"));
        }
        if raw.keys.len() > MAX_ITEMS {
            return Err(PublishError::TooMany("keys"));
        }
        let mut latest: BTreeMap<String, SnapshotWrite> = BTreeMap::new();
        for (index, value) in raw.snapshots.into_iter().enumerate() {
            let write = validate_snapshot(index, value)?;
            match latest.get(&write.customer) {
                Some(seen) if seen.revision >= write.revision => {}
                _ => {
                    latest.insert(write.customer.clone(), write);
                }
            }
        }
        for (index, key) in raw.keys.iter().enumerate() {
            if !is_key_hash(&key.hash) {
                return Err(PublishError::InvalidKey {
                    index,
                    message: "hash must be the lowercase hex SHA-256 of the key (64 digits)".into(),
                });
            }
            if let Some(customer) = &key.customer {
                check_customer(customer)
                    .map_err(|message| PublishError::InvalidKey { index, message })?;
            }
        }
        Ok(Self {
            snapshots: latest.into_values().collect(),
            keys: raw.keys,
        })
    }
}

fn validate_snapshot(
    index: usize,
    value: serde_json::Value,
) -> Result<SnapshotWrite, PublishError> {
    let invalid = |code, message: String| PublishError::InvalidSnapshot {
        index,
        code,
        message,
    };
    let snapshot: Snapshot =
        serde_json::from_value(value).map_err(|e| invalid("invalid_snapshot", e.to_string()))?;
    Gate::new(&snapshot).map_err(|e| invalid(e.code(), e.to_string()))?;
    check_customer(&snapshot.customer).map_err(|m| invalid("invalid_snapshot", m))?;
    let json =
        serde_json::to_string(&snapshot).map_err(|e| invalid("invalid_snapshot", e.to_string()))?;
    Ok(SnapshotWrite {
        customer: snapshot.customer,
        revision: snapshot.revision,
        json,
    })
}

fn check_customer(customer: &str) -> Result<(), String> {
    if customer.is_empty() {
        return Err("customer must not be empty".into());
    }
    if customer.len() + "ent:v1:".len() > MAX_KV_KEY_BYTES {
        return Err(format!(
            "customer id is longer than {} bytes",
            MAX_KV_KEY_BYTES - 7
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use serde_json::json;
    use tollgate_gate::{Account, Catalog, Timestamp, build_snapshot};

    use super::*;
    use crate::identity::api_key::key_hash;
    use crate::store::cache::tests::CATALOG;

    fn snapshot(customer: &str, revision: u64) -> serde_json::Value {
        let catalog = Catalog::parse(CATALOG).unwrap();
        let account: Account =
            serde_json::from_value(json!({"customer": customer, "revision": revision})).unwrap();
        let now = Timestamp::parse("2026-11-25T10:00:00Z").unwrap();
        serde_json::to_value(build_snapshot(&catalog, &account, now)).unwrap()
    }

    fn parse(body: serde_json::Value) -> Result<Publication, PublishError> {
        Publication::parse(body.to_string().as_bytes())
    }

    #[test]
    fn keeps_the_highest_revision_per_customer() {
        let p = parse(json!({
            "snapshots": [snapshot("a", 3), snapshot("a", 5), snapshot("a", 4), snapshot("b", 1)],
            "keys": [{"hash": key_hash("k"), "customer": "a"}, {"hash": key_hash("old"), "customer": null}]
        }))
        .unwrap();
        let revisions: Vec<_> = p
            .snapshots
            .iter()
            .map(|s| (s.customer.as_str(), s.revision))
            .collect();
        assert_eq!(revisions, vec![("a", 5), ("b", 1)]);
        assert_eq!(p.keys.len(), 2);
        let stored: Snapshot = serde_json::from_str(&p.snapshots[0].json).unwrap();
        assert_eq!(serde_json::to_value(&stored).unwrap(), snapshot("a", 5));
    }

    #[test]
    fn one_bad_item_refuses_the_request_and_names_it() {
        let mut bad = snapshot("a", 1);
        bad["schema"] = json!(2);
        let e = parse(json!({"snapshots": [snapshot("b", 1), bad]})).unwrap_err();
        assert_eq!(e.code(), "unsupported_schema");
        assert!(e.to_string().starts_with("snapshots[1]"), "{e}");

        let e = parse(json!({"snapshots": [{"customer": "a"}]})).unwrap_err();
        assert_eq!(e.code(), "invalid_snapshot");

        let e = parse(json!({"keys": [{"hash": "ABC", "customer": "a"}]})).unwrap_err();
        assert_eq!(
            e,
            PublishError::InvalidKey {
                index: 0,
                message: "hash must be the lowercase hex SHA-256 of the key (64 digits)".into()
            }
        );
        let e = parse(json!({"keys": [{"hash": key_hash("k"), "customer": ""}]})).unwrap_err();
        assert_eq!(e.code(), "invalid_key_entry");
        assert_eq!(
            parse(json!({"snapshot": []})).unwrap_err().code(),
            "malformed_publish_request"
        );
        assert_eq!(Publication::parse(b"not json").unwrap_err().status(), 400);
    }

    #[test]
    fn only_newer_revisions_supersede() {
        assert!(supersedes(1, None));
        assert!(supersedes(5, Some(4)));
        assert!(!supersedes(5, Some(5)));
        assert!(!supersedes(4, Some(5)));
    }

    #[test]
    fn secrets_must_match_exactly() {
        assert!(secret_matches(Some("s3cret"), Some("s3cret")));
        assert!(!secret_matches(Some("s3cre"), Some("s3cret")));
        assert!(!secret_matches(None, Some("s3cret")));
        assert!(
            !secret_matches(Some(""), Some("")),
            "an unset secret opens nothing"
        );
        assert!(!secret_matches(Some("x"), None));
    }
}
