//! The edge worker's JWT reader (`UnverifiedJwt::parse`, `verify`, `validate`) and its JWKS
//! reader (`KeySet::parse`), natively.
//!
//! Input: a token (and, read as a JWKS document, the issuer's keys). Properties: reading is
//! total and every refusal is a 401 with a stable code; a token whose header and claims are
//! signed again with the issuer's ES256 key verifies exactly when its header names that key
//! (by `kid`, or alone of its algorithm), and stops verifying when one signature byte
//! changes; a validated identity is never empty and never outlives `exp` plus the leeway.

#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use tollgate_edge::config::JwtConfig;
use tollgate_edge::identity::jwks::{Algorithm, KeySet};
use tollgate_edge::identity::jwt::{LEEWAY_SECONDS, UnverifiedJwt, looks_like_jwt};

const KID: &str = "fuzz";

static SIGNING_KEY: LazyLock<SigningKey> =
    LazyLock::new(|| SigningKey::from_slice(&[7u8; 32]).expect("a P-256 scalar"));

/// The issuer's keys: the ES256 key above and an RS256 key (kid `r1`).
static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    let point = SIGNING_KEY.verifying_key().to_encoded_point(false);
    let rsa: serde_json::Value = serde_json::from_str(include_str!(
        "../../edge-worker/src/identity/testdata/rs256.json"
    ))
    .expect("the RS256 test data");
    let doc = serde_json::json!({"keys": [
        {"kty": "EC", "crv": "P-256", "kid": KID, "alg": "ES256", "use": "sig",
         "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
         "y": URL_SAFE_NO_PAD.encode(point.y().expect("y"))},
        rsa["jwks"]["keys"][0],
    ]});
    KeySet::parse(&doc.to_string()).expect("the fuzz JWKS")
});

fn config() -> JwtConfig {
    JwtConfig {
        issuer: "https://clerk.example.com".into(),
        audience: "tollgate".into(),
        jwks_url: "https://clerk.example.com/.well-known/jwks.json".into(),
        customer_claim: "sub".into(),
        cookie: None,
        jwks_cache_ms: 600_000,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(keys) = KeySet::parse(token) {
        let _ = keys.find(Some(KID), Algorithm::Es256);
    }
    let _ = looks_like_jwt(token);
    let jwt = match UnverifiedJwt::parse(token) {
        Ok(jwt) => jwt,
        Err(error) => {
            assert_eq!(error.status(), 401);
            assert!(!error.code().is_empty());
            return;
        }
    };
    let (alg, kid) = (jwt.alg, jwt.kid.clone());
    let _ = jwt.verify(&KEYS);

    let (signing_input, _) = token.rsplit_once('.').expect("three parts");
    let signature: Signature = SIGNING_KEY.sign(signing_input.as_bytes());
    let mut signature = signature.to_bytes().to_vec();
    let resigned = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&signature));
    let names_our_key = alg == Algorithm::Es256 && kid.as_deref().is_none_or(|k| k == KID);
    let verified = UnverifiedJwt::parse(&resigned)
        .expect("only the signature changed")
        .verify(&KEYS);
    assert_eq!(verified.is_ok(), names_our_key, "{resigned}: {verified:?}");
    let Ok(verified) = verified else { return };

    if let Some(last) = signature.last_mut() {
        *last ^= 1;
    }
    let tampered = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&signature));
    let refused = UnverifiedJwt::parse(&tampered)
        .expect("parses")
        .verify(&KEYS);
    assert!(refused.is_err());

    for now in [0, 1_790_000_000, i64::MAX] {
        let again = UnverifiedJwt::parse(&resigned)
            .expect("parses")
            .verify(&KEYS)
            .expect("verifies");
        if let Ok(identity) = again.validate(&config(), now) {
            assert!(!identity.customer.is_empty());
            assert!(now < identity.expires_at, "{identity:?} at {now}");
            assert!(identity.expires_at <= i64::MAX);
            let _ = LEEWAY_SECONDS;
        }
    }
    let _ = verified.validate(&config(), 0);
});
