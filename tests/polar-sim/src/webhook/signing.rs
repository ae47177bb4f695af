//! Standard Webhooks signatures with Polar's two secret schemes.
//!
//! Signed content is `"{webhook-id}.{webhook-timestamp}.{body}"`, HMAC-SHA256, base64, sent as
//! `v1,<signature>`. What differs is the HMAC key:
//!
//! * **legacy** (secrets created before 2026-09-08 and merchant-chosen ones): the UTF-8 bytes of
//!   the whole secret string, prefix included;
//! * **standard** (secrets created since): the base64-decoded part after `whsec_`, as any stock
//!   Standard Webhooks library does.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Which HMAC key Polar derives from an endpoint's secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SecretScheme {
    /// Key = the UTF-8 bytes of the whole secret.
    #[default]
    Legacy,
    /// Key = base64-decode of the part after `whsec_`.
    Standard,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningError {
    #[error("the webhook secret is empty")]
    Empty,
    #[error("a standard-scheme secret is `whsec_` followed by base64 key bytes")]
    NotStandard,
}

/// The HMAC key for `secret` under `scheme`.
pub fn signing_key(secret: &str, scheme: SecretScheme) -> Result<Vec<u8>, SigningError> {
    if secret.is_empty() {
        return Err(SigningError::Empty);
    }
    match scheme {
        SecretScheme::Legacy => Ok(secret.as_bytes().to_vec()),
        SecretScheme::Standard => {
            let encoded = secret
                .strip_prefix("whsec_")
                .ok_or(SigningError::NotStandard)?;
            let key = STANDARD
                .decode(encoded)
                .or_else(|_| STANDARD_NO_PAD.decode(encoded))
                .map_err(|_| SigningError::NotStandard)?;
            if key.is_empty() {
                Err(SigningError::NotStandard)
            } else {
                Ok(key)
            }
        }
    }
}

/// The `webhook-signature` header value for one delivery attempt.
pub fn sign(key: &[u8], webhook_id: &str, timestamp: i64, body: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail; fall back to an empty MAC anyway
    // rather than panicking.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::from("v1,");
    };
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A fresh secret in the format Polar generates for `scheme`: `whsec_` + 43 alphanumerics
/// (legacy) or `whsec_` + base64 of 32 random bytes (standard).
pub fn generate_secret(scheme: SecretScheme) -> String {
    match scheme {
        SecretScheme::Legacy => format!("whsec_{}", crate::token::random_token(43)),
        SecretScheme::Standard => {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            format!("whsec_{}", STANDARD.encode(key))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // From Polar's published signing vectors (shared/polar/fixtures/signature_test_vectors.json).
    const ID: &str = "492ff33b-dbc7-4e9b-b03f-27a473b7a53c";
    const TS: i64 = 1_789_377_238;
    const BODY: &str = r#"{"type":"customer.created","timestamp":"2026-09-14T09:13:58.399612Z","data":{"id":"1b09a7dc-39e3-4af8-96d3-ae9629bac30f","created_at":"2026-09-14T09:13:58.201774Z","modified_at":null,"metadata":{"plan_source":"web"},"external_id":"user_01J8ZK3QX7M4","email":"ada@example.com","email_verified":false,"type":"individual","name":"Ada Lovelace","billing_name":"Ada Lovelace","billing_address":{"line1":"Torstrasse 12","line2":null,"postal_code":"10119","city":"Berlin","state":null,"country":"DE"},"tax_id":null,"locale":"en","organization_id":"77fb2c0a-9f29-478f-bcd7-fb5e6967d9e8","default_payment_method_id":null,"deleted_at":null,"first_user_event_at":null,"avatar_url":"https://www.gravatar.com/avatar/3f0c9f2b4a6d8e1f7c5b2a9d0e4f6a1b?d=404"},"api_version":"2026-04"}"#;

    #[test]
    fn legacy_whsec_secret_matches_polar() {
        let key = signing_key(
            "whsec_weqEH0hTc7ayeRNXIaS7rYErx8NOIZXqT9jIx0NO3lr",
            SecretScheme::Legacy,
        )
        .unwrap();
        assert_eq!(
            sign(&key, ID, TS, BODY),
            "v1,w+NvZ8bpqWdVbJHkiuKYKU/mVXw0CzVZ7MoapClBSfk="
        );
    }

    #[test]
    fn legacy_polar_whs_secret_matches_polar() {
        let key = signing_key(
            "polar_whs_jOcx3pqBAVPY8O7uu2OEEXqJziihD9J6vhIQJ0uB2vB",
            SecretScheme::Legacy,
        )
        .unwrap();
        assert_eq!(
            sign(&key, ID, TS, BODY),
            "v1,52mwafAqbd9KzdSSHws+OYw6szRsfIo+Y7OSuCw3C/c="
        );
    }

    #[test]
    fn standard_secret_matches_polar() {
        let key = signing_key(
            "whsec_Wga8EOAZsG5uGoV1iNma2yHV2J4ynrZ2UhGTI5/QxxM=",
            SecretScheme::Standard,
        )
        .unwrap();
        assert_eq!(
            sign(&key, ID, TS, BODY),
            "v1,12VBZdN62D2CNB6fVOsj8hkzp90tRfdwtA7HbpqBRjI="
        );
    }

    #[test]
    fn a_legacy_format_secret_is_not_a_standard_key() {
        assert_eq!(
            signing_key("polar_whs_abc", SecretScheme::Standard),
            Err(SigningError::NotStandard)
        );
        assert_eq!(
            signing_key("", SecretScheme::Legacy),
            Err(SigningError::Empty)
        );
    }

    #[test]
    fn generated_secrets_fit_their_scheme() {
        let legacy = generate_secret(SecretScheme::Legacy);
        assert_eq!(legacy.len(), "whsec_".len() + 43);
        let standard = generate_secret(SecretScheme::Standard);
        assert_eq!(
            signing_key(&standard, SecretScheme::Standard)
                .unwrap()
                .len(),
            32
        );
    }
}
