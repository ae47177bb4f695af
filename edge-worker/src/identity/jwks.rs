//! The issuer's signing keys: a JWKS document parsed once into verifying keys.
//!
//! Only keys usable for RS256 (`kty: RSA`, at least 2048 bits) and ES256 (`kty: EC`,
//! `crv: P-256`) are kept; others (encryption keys, other curves) are skipped, not errors, so
//! an issuer adding a new kind of key does not lock everyone out.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::VerifyingKey as EcKey;
use rsa::pkcs1v15::VerifyingKey as RsaKey;
use rsa::{BigUint, RsaPublicKey};
use serde::Deserialize;
use sha2::Sha256;

use super::IdentityError;

/// The signature algorithms a key can verify (a JWT header's `alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rs256,
    Es256,
}

/// Decodes base64url without padding, as JWKs and JWTs write their binary parts.
pub(crate) fn b64url(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(s)
}

/// The smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

#[derive(Debug, Deserialize)]
struct RawJwks {
    keys: Vec<RawJwk>,
}

#[derive(Debug, Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Debug, Clone)]
enum Verifier {
    Rs256(Box<RsaKey<Sha256>>),
    Es256(EcKey),
}

/// One usable key.
#[derive(Debug, Clone)]
pub struct Key {
    kid: Option<String>,
    verifier: Verifier,
}

impl Key {
    pub fn algorithm(&self) -> Algorithm {
        match self.verifier {
            Verifier::Rs256(_) => Algorithm::Rs256,
            Verifier::Es256(_) => Algorithm::Es256,
        }
    }

    /// Verifies a JWS signature over `signing_input`.
    pub fn verify(&self, signing_input: &[u8], signature: &[u8]) -> Result<(), IdentityError> {
        use rsa::signature::Verifier as _;
        match &self.verifier {
            Verifier::Rs256(key) => {
                let sig = rsa::pkcs1v15::Signature::try_from(signature)
                    .map_err(|_| IdentityError::BadSignature)?;
                key.verify(signing_input, &sig)
                    .map_err(|_| IdentityError::BadSignature)
            }
            Verifier::Es256(key) => {
                // JWS carries ECDSA signatures as r || s, 32 bytes each (RFC 7518 §3.4).
                let sig = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| IdentityError::BadSignature)?;
                key.verify(signing_input, &sig)
                    .map_err(|_| IdentityError::BadSignature)
            }
        }
    }
}

/// The usable keys of one JWKS document.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    pub fn parse(json: &str) -> Result<Self, IdentityError> {
        let raw: RawJwks = serde_json::from_str(json)
            .map_err(|e| IdentityError::Unavailable(format!("not a JWKS document: {e}")))?;
        let keys = raw.keys.into_iter().filter_map(usable).collect();
        Ok(Self { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key for a token's `kid` and algorithm. A token without `kid` is accepted only when
    /// the set has exactly one key of its algorithm.
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Key> {
        let mut candidates = self.keys.iter().filter(|k| k.algorithm() == alg);
        match kid {
            Some(kid) => candidates.find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let first = candidates.next();
                if candidates.next().is_some() {
                    None
                } else {
                    first
                }
            }
        }
    }
}

fn usable(jwk: RawJwk) -> Option<Key> {
    if jwk.usage.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let verifier = match (jwk.kty.as_str(), jwk.alg.as_deref()) {
        ("RSA", None | Some("RS256")) => {
            let n = BigUint::from_bytes_be(&b64url(jwk.n.as_deref()?).ok()?);
            let e = BigUint::from_bytes_be(&b64url(jwk.e.as_deref()?).ok()?);
            if n.bits() < MIN_RSA_BITS {
                return None;
            }
            let key = RsaPublicKey::new(n, e).ok()?;
            Verifier::Rs256(Box::new(RsaKey::<Sha256>::new(key)))
        }
        ("EC", None | Some("ES256")) if jwk.crv.as_deref() == Some("P-256") => {
            let x = b64url(jwk.x.as_deref()?).ok()?;
            let y = b64url(jwk.y.as_deref()?).ok()?;
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut sec1 = Vec::with_capacity(65);
            sec1.push(0x04);
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            Verifier::Es256(EcKey::from_sec1_bytes(&sec1).ok()?)
        }
        _ => return None,
    };
    Some(Key {
        kid: jwk.kid,
        verifier,
    })
}
