//! Identity: who is calling, as a customer id.
//!
//! `Authorization: Bearer <credential>` carries either an API key or a JWT from the configured
//! OIDC issuer (Clerk, Auth0, …); without that header, a JWT may also come in the configured
//! session cookie (Clerk's `__session` for same-origin requests). A credential shaped like a JWS compact token (three base64url
//! parts, the first a JSON header) is a JWT; anything else is an API key. API keys are looked
//! up in KV by the SHA-256 of the key (`key:v1:<hex>`), so KV never holds a usable key. JWTs
//! are verified against the issuer's JWKS (RS256, ES256), and their `iss`, `aud`, `exp` and
//! `nbf` checked; the customer id is `sub` or the configured claim.
//!
//! Every failure is an [`IdentityError`] with a stable code, answered 401 — except an issuer
//! whose keys cannot be fetched, which is ours to fix (503).

pub mod api_key;
pub mod jwks;
pub mod jwt;
pub mod resolve;

/// The longest credential accepted; a JWT from a real issuer is a few kilobytes at most.
pub const MAX_CREDENTIAL_LEN: usize = 8 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityError {
    #[error("no credentials: send `Authorization: Bearer <API key or token>`")]
    Missing,
    #[error("the Authorization header is not `Bearer <credential>`")]
    MalformedHeader,
    #[error("the credential is longer than {MAX_CREDENTIAL_LEN} bytes")]
    TooLong,
    #[error("unknown API key")]
    UnknownApiKey,
    #[error("malformed token: {0}")]
    MalformedToken(&'static str),
    #[error("tokens signed with `{0}` are not accepted (RS256, ES256 are)")]
    UnsupportedAlgorithm(String),
    #[error("JWTs are not accepted: no issuer is configured")]
    JwtNotConfigured,
    #[error("no key of the issuer matches the token (kid {0:?})")]
    UnknownKey(Option<String>),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is not the configured one")]
    WrongIssuer,
    #[error("the token's audience does not include the configured one")]
    WrongAudience,
    #[error("the token has no `{0}` claim naming the customer")]
    MissingCustomerClaim(String),
    #[error("the credential could not be checked: {0}")]
    Unavailable(String),
}

impl IdentityError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "missing_credentials",
            Self::MalformedHeader => "malformed_authorization",
            Self::TooLong => "credential_too_long",
            Self::UnknownApiKey => "unknown_api_key",
            Self::MalformedToken(_) => "malformed_token",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::JwtNotConfigured => "jwt_not_accepted",
            Self::UnknownKey(_) => "unknown_signing_key",
            Self::BadSignature => "invalid_signature",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingCustomerClaim(_) => "missing_customer_claim",
            Self::Unavailable(_) => "identity_unavailable",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Unavailable(_) => 503,
            _ => 401,
        }
    }
}

/// What the caller presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    ApiKey(&'a str),
    Jwt(&'a str),
}

impl<'a> Credential<'a> {
    /// Reads the `Authorization` header value.
    pub fn from_header(header: Option<&'a str>) -> Result<Self, IdentityError> {
        let header = header.ok_or(IdentityError::Missing)?.trim();
        let (scheme, credential) = header
            .split_once(' ')
            .ok_or(IdentityError::MalformedHeader)?;
        let credential = credential.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || credential.is_empty() {
            return Err(IdentityError::MalformedHeader);
        }
        if credential.len() > MAX_CREDENTIAL_LEN {
            return Err(IdentityError::TooLong);
        }
        Ok(if jwt::looks_like_jwt(credential) {
            Self::Jwt(credential)
        } else {
            Self::ApiKey(credential)
        })
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name)
            .then(|| v.trim_matches('"'))
            .filter(|v| !v.is_empty())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_others() {
        let header = "theme=dark; __session=eyJ.a.b;  __client_uat=17";
        assert_eq!(cookie_value(header, "__session"), Some("eyJ.a.b"));
        assert_eq!(cookie_value(header, "__client_uat"), Some("17"));
        assert_eq!(cookie_value(header, "session"), None);
        assert_eq!(cookie_value("__session=", "__session"), None);
    }

    #[test]
    fn bearer_credentials_are_keys_or_tokens() {
        assert_eq!(
            Credential::from_header(Some("Bearer tg_live_abc")),
            Ok(Credential::ApiKey("tg_live_abc"))
        );
        assert_eq!(
            Credential::from_header(Some("bearer   eyJhbGciOiJFUzI1NiJ9.e30.c2ln")),
            Ok(Credential::Jwt("eyJhbGciOiJFUzI1NiJ9.e30.c2ln"))
        );
    }

    #[test]
    fn other_headers_are_refused() {
        assert_eq!(Credential::from_header(None), Err(IdentityError::Missing));
        assert_eq!(
            Credential::from_header(Some("Basic dXNlcjpwYXNz")),
            Err(IdentityError::MalformedHeader)
        );
        assert_eq!(
            Credential::from_header(Some("Bearer")),
            Err(IdentityError::MalformedHeader)
        );
        let long = format!("Bearer {}", "k".repeat(MAX_CREDENTIAL_LEN + 1));
        assert_eq!(
            Credential::from_header(Some(&long)),
            Err(IdentityError::TooLong)
        );
    }

    #[test]
    fn every_error_is_401_but_an_unreachable_issuer() {
        assert_eq!(IdentityError::Expired.status(), 401);
        assert_eq!(IdentityError::Unavailable("down".into()).status(), 503);
    }
}
