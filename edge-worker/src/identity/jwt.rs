//! JWTs (JWS compact serialisation): parsing, signature check against a [`KeySet`], and the
//! registered claims (`iss`, `aud`, `exp`, `nbf`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::IdentityError;
use super::jwks::{Algorithm, KeySet, b64url};
use crate::config::JwtConfig;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: i64 = 30;

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// A token split into its parts; nothing in it is trusted yet.
#[derive(Debug)]
pub struct UnverifiedJwt<'a> {
    pub alg: Algorithm,
    pub kid: Option<String>,
    signing_input: &'a str,
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

/// Whether a credential is shaped like a JWS compact token: three base64url parts, the first
/// starting with `eyJ` (base64 of `{"`).
pub fn looks_like_jwt(credential: &str) -> bool {
    credential.starts_with("eyJ")
        && credential.split('.').count() == 3
        && credential
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl<'a> UnverifiedJwt<'a> {
    pub fn parse(token: &'a str) -> Result<Self, IdentityError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(IdentityError::MalformedToken(
                "not three dot-separated parts",
            ));
        };
        let header: Header = b64url(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(IdentityError::MalformedToken(
                "header is not base64url JSON",
            ))?;
        let alg = match header.alg.as_str() {
            "RS256" => Algorithm::Rs256,
            "ES256" => Algorithm::Es256,
            other => return Err(IdentityError::UnsupportedAlgorithm(other.to_owned())),
        };
        let claims: Map<String, Value> = b64url(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(IdentityError::MalformedToken(
                "payload is not a base64url JSON object",
            ))?;
        let signature = b64url(signature)
            .map_err(|_| IdentityError::MalformedToken("signature is not base64url"))?;
        let signing_input_len = token.len() - signature_part_len(token);
        let signing_input = token
            .get(..signing_input_len)
            .ok_or(IdentityError::MalformedToken(
                "not three dot-separated parts",
            ))?;
        Ok(Self {
            alg,
            kid: header.kid,
            signing_input,
            signature,
            claims,
        })
    }

    /// Checks the signature with the matching key of `keys`. `Err(UnknownKey)` tells the caller
    /// the issuer may have rotated its keys since they were fetched.
    pub fn verify(self, keys: &KeySet) -> Result<VerifiedJwt, IdentityError> {
        let key = keys
            .find(self.kid.as_deref(), self.alg)
            .ok_or_else(|| IdentityError::UnknownKey(self.kid.clone()))?;
        key.verify(self.signing_input.as_bytes(), &self.signature)?;
        Ok(VerifiedJwt {
            claims: self.claims,
        })
    }
}

/// Length of the signature part plus its leading dot.
fn signature_part_len(token: &str) -> usize {
    token.rsplit('.').next().map_or(0, |s| s.len() + 1)
}

/// A token whose signature verified; its claims are not checked yet.
#[derive(Debug)]
pub struct VerifiedJwt {
    claims: Map<String, Value>,
}

/// The customer a token names, and until when (seconds since the epoch) it may be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    pub customer: String,
    pub expires_at: i64,
}

impl VerifiedJwt {
    /// Checks `iss`, `aud`, `exp` (required) and `nbf` at `now` (seconds), then reads the
    /// customer id from the configured claim.
    pub fn validate(self, config: &JwtConfig, now: i64) -> Result<TokenIdentity, IdentityError> {
        let claims = &self.claims;
        if claims.get("iss").and_then(Value::as_str) != Some(config.issuer.as_str()) {
            return Err(IdentityError::WrongIssuer);
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == &config.audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(&config.audience)),
            _ => false,
        };
        if !audience_ok {
            return Err(IdentityError::WrongAudience);
        }
        let exp =
            numeric_date(claims, "exp")?.ok_or(IdentityError::MalformedToken("no `exp` claim"))?;
        if now >= exp.saturating_add(LEEWAY_SECONDS) {
            return Err(IdentityError::Expired);
        }
        if let Some(nbf) = numeric_date(claims, "nbf")?
            && now.saturating_add(LEEWAY_SECONDS) < nbf
        {
            return Err(IdentityError::NotYetValid);
        }
        let customer = claims
            .get(&config.customer_claim)
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| IdentityError::MissingCustomerClaim(config.customer_claim.clone()))?;
        Ok(TokenIdentity {
            customer: customer.to_owned(),
            expires_at: exp.saturating_add(LEEWAY_SECONDS),
        })
    }
}

fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, IdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(IdentityError::MalformedToken(
                "a time claim is not a number",
            )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use p256::ecdsa::{Signature, SigningKey, signature::Signer};
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_790_000_000;

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

    fn signing_key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn jwks(kid: &str) -> KeySet {
        let point = signing_key().verifying_key().to_encoded_point(false);
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let doc = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
             "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())}
        ]});
        KeySet::parse(&doc.to_string()).unwrap()
    }

    fn token(header: Value, claims: Value) -> String {
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let sig: Signature = signing_key().sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    fn claims() -> Value {
        json!({"iss": "https://clerk.example.com", "aud": ["other", "tollgate"],
               "sub": "user_123", "exp": NOW + 60, "nbf": NOW - 5})
    }

    fn identify(token: &str, keys: &KeySet) -> Result<TokenIdentity, IdentityError> {
        UnverifiedJwt::parse(token)?
            .verify(keys)?
            .validate(&config(), NOW)
    }

    #[test]
    fn a_good_es256_token_names_its_customer() {
        let t = token(json!({"alg": "ES256", "kid": "k1"}), claims());
        assert!(looks_like_jwt(&t));
        let id = identify(&t, &jwks("k1")).unwrap();
        assert_eq!(id.customer, "user_123");
        assert_eq!(id.expires_at, NOW + 60 + LEEWAY_SECONDS);
        assert_eq!(jwks("k1").len(), 1, "the symmetric key is skipped");
    }

    #[test]
    fn a_token_without_kid_uses_the_only_key_of_its_algorithm() {
        let t = token(json!({"alg": "ES256"}), claims());
        assert!(identify(&t, &jwks("k1")).is_ok());
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let t = token(json!({"alg": "ES256", "kid": "k1"}), claims());
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            json!({"iss": "https://clerk.example.com", "aud": "tollgate", "sub": "admin", "exp": NOW + 60})
                .to_string(),
        );
        parts[1] = &forged;
        assert_eq!(
            identify(&parts.join("."), &jwks("k1")),
            Err(IdentityError::BadSignature)
        );
    }

    #[test]
    fn unknown_keys_and_algorithms_are_refused() {
        let t = token(json!({"alg": "ES256", "kid": "rotated"}), claims());
        assert_eq!(
            identify(&t, &jwks("k1")),
            Err(IdentityError::UnknownKey(Some("rotated".into())))
        );
        let t = token(json!({"alg": "HS256"}), claims());
        assert_eq!(
            identify(&t, &jwks("k1")),
            Err(IdentityError::UnsupportedAlgorithm("HS256".into()))
        );
        let t = token(json!({"alg": "none"}), claims());
        assert!(matches!(
            identify(&t, &jwks("k1")),
            Err(IdentityError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn registered_claims_are_checked() {
        let keys = jwks("k1");
        let with = |patch: Value| {
            let mut c = claims();
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            identify(&token(json!({"alg": "ES256", "kid": "k1"}), c), &keys)
        };
        assert_eq!(
            with(json!({"exp": NOW - LEEWAY_SECONDS})),
            Err(IdentityError::Expired)
        );
        assert!(with(json!({"exp": NOW - LEEWAY_SECONDS + 1})).is_ok());
        assert_eq!(
            with(json!({"nbf": NOW + LEEWAY_SECONDS + 1})),
            Err(IdentityError::NotYetValid)
        );
        assert_eq!(
            with(json!({"iss": "https://evil.example"})),
            Err(IdentityError::WrongIssuer)
        );
        assert_eq!(
            with(json!({"aud": "someone-else"})),
            Err(IdentityError::WrongAudience)
        );
        assert!(with(json!({"aud": "tollgate"})).is_ok());
        assert_eq!(
            with(json!({"sub": null})),
            Err(IdentityError::MissingCustomerClaim("sub".into()))
        );
        assert_eq!(
            with(json!({"exp": null})),
            Err(IdentityError::MalformedToken("no `exp` claim"))
        );
    }

    /// A 2048-bit RSA key's JWKS and a token it signed (generated with node:crypto), so
    /// RS256 is checked against an independent implementation.
    fn rs256_fixture() -> (KeySet, String) {
        let fixture: Value = serde_json::from_str(include_str!("testdata/rs256.json")).unwrap();
        let keys = KeySet::parse(&fixture["jwks"].to_string()).unwrap();
        (keys, fixture["token"].as_str().unwrap().to_owned())
    }

    #[test]
    fn a_good_rs256_token_names_its_customer_or_the_configured_claim() {
        let (keys, token) = rs256_fixture();
        assert_eq!(identify(&token, &keys).unwrap().customer, "user_rsa");
        let org = JwtConfig {
            customer_claim: "org_id".into(),
            ..config()
        };
        let id = UnverifiedJwt::parse(&token)
            .unwrap()
            .verify(&keys)
            .unwrap()
            .validate(&org, NOW)
            .unwrap();
        assert_eq!(id.customer, "org_9");
    }

    #[test]
    fn an_rs256_signature_over_other_claims_is_refused() {
        let (keys, token) = rs256_fixture();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            json!({"iss": "https://clerk.example.com", "aud": "tollgate", "sub": "admin", "exp": NOW + 60})
                .to_string(),
        );
        parts[1] = &forged;
        assert_eq!(
            identify(&parts.join("."), &keys),
            Err(IdentityError::BadSignature)
        );
        // An ES256 header on the RSA key's token finds no key of that algorithm.
        let es_header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": "r1"}).to_string());
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[0] = &es_header;
        assert_eq!(
            identify(&parts.join("."), &keys),
            Err(IdentityError::UnknownKey(Some("r1".into())))
        );
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(
            UnverifiedJwt::parse("eyJ.a"),
            Err(IdentityError::MalformedToken(_))
        ));
        assert!(matches!(
            UnverifiedJwt::parse("eyJhbGciOiJFUzI1NiJ9.!!.c2ln"),
            Err(IdentityError::MalformedToken(_))
        ));
        assert!(!looks_like_jwt("tg_live_abc"));
    }
}
