//! Standard Webhooks signature verification, with both of Polar's secret schemes.
//!
//! Polar signs `"{webhook-id}.{webhook-timestamp}.{raw body}"` with HMAC-SHA256 and sends
//! `v1,<base64 digest>` in `webhook-signature` (several space-separated entries during a
//! rotation). Which HMAC key it uses depends on when the endpoint's secret was generated:
//!
//! * **legacy** (secrets before 2026-09-08, `polar_whs_…`, merchant-chosen secrets): the UTF-8
//!   bytes of the whole secret string, prefix included;
//! * **standard** (secrets from 2026-09-08): the base64-decoded part after `whsec_`.
//!
//! A `whsec_` secret can be either, and nothing in it says which, so we try every candidate key
//! (the same choice Polar's own SDKs make). Comparison is constant-time (`verify_slice`), and a
//! delivery is accepted only within [`TOLERANCE_SECS`] of now, to bound replays.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

/// How far a delivery's timestamp may be from now, either way (Standard Webhooks' 5 minutes).
pub(crate) const TOLERANCE_SECS: i64 = 5 * 60;

/// Standard base64 that accepts the secret with or without its `=` padding.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a secret or a delivery was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("the webhook secret is empty")]
    EmptySecret,
    #[error("webhook-timestamp is not a Unix time in seconds")]
    InvalidTimestamp,
    #[error("webhook-timestamp is more than 5 minutes away from now")]
    TimestampOutOfTolerance,
    #[error("no signature in webhook-signature matches the body")]
    NoMatchingSignature,
}

/// The candidate HMAC keys of one configured secret.
pub(crate) struct WebhookSecret {
    keys: Vec<SecretSlice<u8>>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSecret")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// The three Standard Webhooks headers of one delivery.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedHeaders<'a> {
    pub(crate) id: &'a str,
    pub(crate) timestamp: &'a str,
    pub(crate) signature: &'a str,
}

impl WebhookSecret {
    /// Derives the candidate keys of `secret`: its own bytes (legacy scheme) and, for a
    /// `whsec_` secret whose rest is base64, the decoded bytes (standard scheme).
    pub(crate) fn new(secret: &SecretString) -> Result<Self, SignatureError> {
        let secret = secret.expose_secret();
        if secret.is_empty() {
            return Err(SignatureError::EmptySecret);
        }
        let legacy = secret.as_bytes().to_vec();
        let mut keys = Vec::with_capacity(2);
        if let Some(rest) = secret.strip_prefix("whsec_")
            && let Ok(decoded) = LENIENT_BASE64.decode(rest)
            && !decoded.is_empty()
            && decoded != legacy
        {
            keys.push(SecretSlice::from(decoded));
        }
        keys.push(SecretSlice::from(legacy));
        Ok(Self { keys })
    }

    /// The candidate keys, in the order they are tried.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn keys(&self) -> &[SecretSlice<u8>] {
        &self.keys
    }

    /// Checks one delivery at `now_secs` (Unix seconds).
    pub(crate) fn verify(
        &self,
        headers: SignedHeaders<'_>,
        body: &[u8],
        now_secs: i64,
    ) -> Result<(), SignatureError> {
        let sent_at: i64 = headers
            .timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::InvalidTimestamp)?;
        if now_secs.abs_diff(sent_at) > TOLERANCE_SECS.unsigned_abs() {
            return Err(SignatureError::TimestampOutOfTolerance);
        }
        let signatures: Vec<Vec<u8>> = headers
            .signature
            .split_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .collect();
        for key in &self.keys {
            let Some(mac) = mac(key.expose_secret(), headers.id, headers.timestamp, body) else {
                continue;
            };
            if signatures
                .iter()
                .any(|signature| mac.clone().verify_slice(signature).is_ok())
            {
                return Ok(());
            }
        }
        Err(SignatureError::NoMatchingSignature)
    }
}

/// The HMAC-SHA256 of `id.timestamp.body` under `key`, as Standard Webhooks signs a delivery.
fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    // HMAC takes keys of any length: `None` does not happen.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// `v1,<base64 signature>` of a delivery under `key`: the `webhook-signature` header's value.
pub(crate) fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    mac(key, id, &timestamp.to_string(), body).map_or_else(String::new, |mac| {
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    })
}

/// Signs like Polar does with a legacy-scheme secret: the key is the secret's own bytes.
/// Used by tests, the benchmark and local tooling to produce deliveries Polar would send.
pub fn sign_legacy(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    sign(secret.as_bytes(), id, timestamp, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../tests/fixtures/signature_test_vectors.json");

    fn vectors() -> Value {
        serde_json::from_str(VECTORS).unwrap()
    }

    #[test]
    fn every_polar_vector_behaves_as_marked() {
        let v = vectors();
        let id = v["webhook_id"].as_str().unwrap();
        let timestamp = v["webhook_timestamp"].as_str().unwrap();
        let now: i64 = timestamp.parse().unwrap();
        let body = v["body"].as_str().unwrap().as_bytes();
        let cases = v["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 5);
        for case in cases {
            let secret = WebhookSecret::new(&SecretString::from(
                case["secret"].as_str().unwrap().to_owned(),
            ))
            .unwrap();
            let headers = SignedHeaders {
                id,
                timestamp,
                signature: case["webhook_signature"].as_str().unwrap(),
            };
            let expect_valid = case["expect_valid"].as_bool().unwrap_or(true);
            let outcome = secret.verify(headers, body, now);
            assert_eq!(
                outcome.is_ok(),
                expect_valid,
                "{}: {outcome:?}",
                case["name"]
            );
        }
    }

    fn first_case() -> (WebhookSecret, Value) {
        let v = vectors();
        let secret = v["cases"][0]["secret"].as_str().unwrap().to_owned();
        (WebhookSecret::new(&SecretString::from(secret)).unwrap(), v)
    }

    #[test]
    fn the_tolerance_is_five_minutes_either_way() {
        let (secret, v) = first_case();
        let timestamp = v["webhook_timestamp"].as_str().unwrap();
        let sent: i64 = timestamp.parse().unwrap();
        let headers = SignedHeaders {
            id: v["webhook_id"].as_str().unwrap(),
            timestamp,
            signature: v["cases"][0]["webhook_signature"].as_str().unwrap(),
        };
        let body = v["body"].as_str().unwrap().as_bytes();
        assert!(secret.verify(headers, body, sent + 300).is_ok());
        assert!(secret.verify(headers, body, sent - 300).is_ok());
        assert_eq!(
            secret.verify(headers, body, sent + 301),
            Err(SignatureError::TimestampOutOfTolerance)
        );
        assert_eq!(
            secret.verify(headers, body, sent - 301),
            Err(SignatureError::TimestampOutOfTolerance)
        );
    }

    #[test]
    fn a_tampered_body_id_or_timestamp_is_refused() {
        let (secret, v) = first_case();
        let timestamp = v["webhook_timestamp"].as_str().unwrap();
        let now: i64 = timestamp.parse().unwrap();
        let body = v["body"].as_str().unwrap();
        let signature = v["cases"][0]["webhook_signature"].as_str().unwrap();
        let id = v["webhook_id"].as_str().unwrap();
        let tampered = body.replace("Ada", "Eve");
        let good = SignedHeaders {
            id,
            timestamp,
            signature,
        };
        assert_eq!(
            secret.verify(good, tampered.as_bytes(), now),
            Err(SignatureError::NoMatchingSignature)
        );
        let other_id = SignedHeaders {
            id: "another-id",
            ..good
        };
        assert!(secret.verify(other_id, body.as_bytes(), now).is_err());
        let later = (now + 1).to_string();
        let other_ts = SignedHeaders {
            timestamp: &later,
            ..good
        };
        assert!(secret.verify(other_ts, body.as_bytes(), now).is_err());
        let garbage = SignedHeaders {
            timestamp: "soon",
            ..good
        };
        assert_eq!(
            secret.verify(garbage, body.as_bytes(), now),
            Err(SignatureError::InvalidTimestamp)
        );
    }

    #[test]
    fn other_versions_and_garbage_entries_are_ignored() {
        let (secret, v) = first_case();
        let timestamp = v["webhook_timestamp"].as_str().unwrap();
        let now: i64 = timestamp.parse().unwrap();
        let good = v["cases"][0]["webhook_signature"].as_str().unwrap();
        let b64 = good.strip_prefix("v1,").unwrap();
        let body = v["body"].as_str().unwrap().as_bytes();
        let id = v["webhook_id"].as_str().unwrap();
        let only_v1a = format!("v1a,{b64} v2,{b64} v1,!!notbase64!!");
        let headers = SignedHeaders {
            id,
            timestamp,
            signature: &only_v1a,
        };
        assert!(secret.verify(headers, body, now).is_err());
        let mixed = format!("v1a,{b64}   {good}");
        let headers = SignedHeaders {
            id,
            timestamp,
            signature: &mixed,
        };
        assert!(secret.verify(headers, body, now).is_ok());
    }

    #[test]
    fn sign_legacy_round_trips_and_matches_polars_vector() {
        let v = vectors();
        let case = &v["cases"][0];
        let signature = sign_legacy(
            case["secret"].as_str().unwrap(),
            v["webhook_id"].as_str().unwrap(),
            v["webhook_timestamp"].as_str().unwrap().parse().unwrap(),
            v["body"].as_str().unwrap().as_bytes(),
        );
        assert_eq!(signature, case["webhook_signature"].as_str().unwrap());
    }

    #[test]
    fn an_empty_secret_is_refused_and_debug_hides_keys() {
        assert_eq!(
            WebhookSecret::new(&SecretString::from(String::new())).unwrap_err(),
            SignatureError::EmptySecret
        );
        let (secret, _) = first_case();
        assert!(!format!("{secret:?}").contains("whsec"));
    }
}
