//! The Worker's configuration, typed, read once per isolate from its environment.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TOLLGATE_ORIGIN` | origin that allowed and ungated requests are proxied to | none: such requests get 404 |
//! | `TOLLGATE_ROUTES` | route rules, JSON (see `rules`) | `[]` |
//! | `TOLLGATE_FAILURE_POLICY` | failure policies, JSON (see `policy`) | `last_known_good` |
//! | `TOLLGATE_UPGRADE_URL` | a page of the app where the customer upgrades: `{plan}` becomes the suggested plan's key, `{feature}` the refused feature | none |
//! | `TOLLGATE_JWT_ISSUER`, `TOLLGATE_JWT_AUDIENCE`, `TOLLGATE_JWKS_URL` | OIDC issuer (all three, or none) | JWTs refused |
//! | `TOLLGATE_JWT_CUSTOMER_CLAIM` | claim holding the customer id | `sub` |
//! | `TOLLGATE_JWT_COOKIE` | cookie holding the JWT when there is no `Authorization` (Clerk: `__session`) | none |
//! | `TOLLGATE_JWKS_CACHE_SECONDS` | how long a fetched JWKS is trusted | 600 |
//! | `TOLLGATE_KV_CACHE_TTL` | `cacheTtl` of snapshot reads, seconds (Cloudflare's minimum is 60) | 60 |
//! | `TOLLGATE_SNAPSHOT_REFRESH_SECONDS` | age after which a cached snapshot is refreshed in the background | 10 |
//! | `TOLLGATE_SNAPSHOT_MAX_AGE_SECONDS` | age after which a cached snapshot is re-read before answering | 300 |
//! | `TOLLGATE_USAGE_URL` | the sync worker's `POST /v1/usage` | none: usage stays queued |
//! | `TOLLGATE_USAGE_TOKEN` (secret) | Bearer token for it and for the leases (an `app` token) | — |
//! | `TOLLGATE_LEASES_URL` | the sync worker's `POST /v1/leases` (exact features) | none: exact features follow `on_stale` |
//! | `TOLLGATE_LEASE_TTL_SECONDS` | how long a lease lasts (the sync worker counts it fully used after) | 300 |
//! | `TOLLGATE_LEASE_IDLE_SECONDS` | idle time after which the Durable Object settles its leases | 30 |
//! | `TOLLGATE_INTERNAL_SECRET` (secret) | shared secret of `/_tollgate/*` and of `now` overrides | none: those refused |

use crate::policy::FailurePolicies;
use crate::rules::{Rules, RulesParseError};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{name}: {source}")]
    Routes {
        name: &'static str,
        source: RulesParseError,
    },
    #[error("{name}: {source}")]
    Json {
        name: &'static str,
        source: serde_json::Error,
    },
    #[error("{name}: `{value}` is not a whole number of seconds")]
    Seconds { name: &'static str, value: String },
    #[error("{name}: `{value}` is not an absolute http(s) URL")]
    Url { name: &'static str, value: String },
    #[error(
        "JWT settings are partial: set all of TOLLGATE_JWT_ISSUER, TOLLGATE_JWT_AUDIENCE and TOLLGATE_JWKS_URL, or none (missing {missing})"
    )]
    PartialJwt { missing: &'static str },
}

/// The OIDC issuer whose JWTs identify customers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    pub customer_claim: String,
    /// Cookie that carries the token on same-origin requests.
    pub cookie: Option<String>,
    pub jwks_cache_ms: i64,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub origin: Option<String>,
    pub rules: Rules,
    pub policies: FailurePolicies,
    pub upgrade_url: Option<String>,
    pub jwt: Option<JwtConfig>,
    pub kv_cache_ttl: u64,
    pub refresh_after_ms: i64,
    pub max_age_ms: i64,
    pub usage_url: Option<String>,
    pub usage_token: Option<String>,
    pub internal_secret: Option<String>,
    pub leases_url: Option<String>,
    pub lease_ttl_ms: i64,
    pub lease_idle_ms: i64,
}

impl std::fmt::Debug for Config {
    // Secrets stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("origin", &self.origin)
            .field("rules", &self.rules)
            .field("policies", &self.policies)
            .field("upgrade_url", &self.upgrade_url)
            .field("jwt", &self.jwt)
            .field("kv_cache_ttl", &self.kv_cache_ttl)
            .field("refresh_after_ms", &self.refresh_after_ms)
            .field("max_age_ms", &self.max_age_ms)
            .field("usage_url", &self.usage_url)
            .field("leases_url", &self.leases_url)
            .field("lease_ttl_ms", &self.lease_ttl_ms)
            .field("lease_idle_ms", &self.lease_idle_ms)
            .field("usage_token", &self.usage_token.as_ref().map(|_| "<set>"))
            .field(
                "internal_secret",
                &self.internal_secret.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

impl Config {
    /// Builds the configuration from a lookup of variables and secrets by name; empty values
    /// count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let url = |name: &'static str| -> Result<Option<String>, ConfigError> {
            match get(name) {
                None => Ok(None),
                Some(v) if is_http_url(&v) => Ok(Some(v.trim_end_matches('/').to_owned())),
                Some(value) => Err(ConfigError::Url { name, value }),
            }
        };
        let seconds = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| ConfigError::Seconds { name, value: v }),
            }
        };

        let rules = match get("TOLLGATE_ROUTES") {
            None => Rules::default(),
            Some(json) => Rules::parse(&json).map_err(|source| ConfigError::Routes {
                name: "TOLLGATE_ROUTES",
                source,
            })?,
        };
        let policies = match get("TOLLGATE_FAILURE_POLICY") {
            None => FailurePolicies::default(),
            Some(json) => FailurePolicies::parse(&json).map_err(|source| ConfigError::Json {
                name: "TOLLGATE_FAILURE_POLICY",
                source,
            })?,
        };
        let jwt = match (
            get("TOLLGATE_JWT_ISSUER"),
            get("TOLLGATE_JWT_AUDIENCE"),
            url("TOLLGATE_JWKS_URL")?,
        ) {
            (None, None, None) => None,
            (Some(issuer), Some(audience), Some(jwks_url)) => Some(JwtConfig {
                issuer,
                audience,
                jwks_url,
                customer_claim: get("TOLLGATE_JWT_CUSTOMER_CLAIM").unwrap_or_else(|| "sub".into()),
                cookie: get("TOLLGATE_JWT_COOKIE"),
                jwks_cache_ms: millis(seconds("TOLLGATE_JWKS_CACHE_SECONDS", 600)?),
            }),
            (issuer, audience, _) => {
                let missing = if issuer.is_none() {
                    "TOLLGATE_JWT_ISSUER"
                } else if audience.is_none() {
                    "TOLLGATE_JWT_AUDIENCE"
                } else {
                    "TOLLGATE_JWKS_URL"
                };
                return Err(ConfigError::PartialJwt { missing });
            }
        };

        Ok(Self {
            origin: url("TOLLGATE_ORIGIN")?,
            rules,
            policies,
            upgrade_url: get("TOLLGATE_UPGRADE_URL"),
            jwt,
            kv_cache_ttl: seconds("TOLLGATE_KV_CACHE_TTL", 60)?.max(60),
            refresh_after_ms: millis(seconds("TOLLGATE_SNAPSHOT_REFRESH_SECONDS", 10)?),
            max_age_ms: millis(seconds("TOLLGATE_SNAPSHOT_MAX_AGE_SECONDS", 300)?),
            usage_url: url("TOLLGATE_USAGE_URL")?,
            usage_token: get("TOLLGATE_USAGE_TOKEN"),
            internal_secret: get("TOLLGATE_INTERNAL_SECRET"),
            leases_url: url("TOLLGATE_LEASES_URL")?,
            lease_ttl_ms: millis(seconds("TOLLGATE_LEASE_TTL_SECONDS", 300)?.clamp(1, 3600)),
            lease_idle_ms: millis(seconds("TOLLGATE_LEASE_IDLE_SECONDS", 30)?),
        })
    }

    /// The upgrade link to `plan` for a refusal of `feature`, if an upgrade URL is configured.
    /// Both are percent-encoded, so the template decides where they go in the URL.
    pub fn upgrade_link(&self, plan: &str, feature: &str) -> Option<String> {
        self.upgrade_url.as_ref().map(|template| {
            template
                .replace("{plan}", &url_component(plan))
                .replace("{feature}", &url_component(feature))
        })
    }
}

/// `text` percent-encoded for any part of a URL (RFC 3986 unreserved characters kept).
fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn millis(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn is_http_url(v: &str) -> bool {
    (v.starts_with("https://") || v.starts_with("http://")) && v.len() > "https://".len()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::policy::FailurePolicy;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn an_empty_environment_is_a_valid_gate_with_no_rules() {
        let c = config(&[]).unwrap();
        assert_eq!(c.origin, None);
        assert!(c.rules.find("GET", "/").is_none());
        assert_eq!(c.policies.for_feature("x"), FailurePolicy::LastKnownGood);
        assert_eq!(c.kv_cache_ttl, 60);
        assert_eq!(c.jwt, None);
    }

    #[test]
    fn reads_every_setting() {
        let c = config(&[
            ("TOLLGATE_ORIGIN", "https://app.example.com/"),
            (
                "TOLLGATE_ROUTES",
                r#"[{"path": "/api/*", "feature": "api_calls"}]"#,
            ),
            (
                "TOLLGATE_FAILURE_POLICY",
                r#"{"features": {"api_calls": "open"}}"#,
            ),
            (
                "TOLLGATE_UPGRADE_URL",
                "https://app.example.com/upgrade?plan={plan}&feature={feature}",
            ),
            ("TOLLGATE_JWT_ISSUER", "https://clerk.example.com"),
            ("TOLLGATE_JWT_AUDIENCE", "tollgate"),
            (
                "TOLLGATE_JWKS_URL",
                "https://clerk.example.com/.well-known/jwks.json",
            ),
            ("TOLLGATE_JWT_CUSTOMER_CLAIM", "org_id"),
            ("TOLLGATE_KV_CACHE_TTL", "120"),
            ("TOLLGATE_INTERNAL_SECRET", "s3cret"),
        ])
        .unwrap();
        assert_eq!(c.origin.as_deref(), Some("https://app.example.com"));
        assert_eq!(c.rules.find("GET", "/api/x").unwrap().feature, "api_calls");
        assert_eq!(c.policies.for_feature("api_calls"), FailurePolicy::Open);
        assert_eq!(
            c.upgrade_link("premium", "api_calls").as_deref(),
            Some("https://app.example.com/upgrade?plan=premium&feature=api_calls")
        );
        assert_eq!(
            c.upgrade_link("pro plan", "a&b").as_deref(),
            Some("https://app.example.com/upgrade?plan=pro%20plan&feature=a%26b")
        );
        assert_eq!(c.jwt.as_ref().unwrap().customer_claim, "org_id");
        assert_eq!(c.kv_cache_ttl, 120);
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = config(&[("TOLLGATE_KV_CACHE_TTL", "soon")]).unwrap_err();
        assert!(e.to_string().starts_with("TOLLGATE_KV_CACHE_TTL"), "{e}");
        let e = config(&[("TOLLGATE_ORIGIN", "app.example.com")]).unwrap_err();
        assert!(e.to_string().starts_with("TOLLGATE_ORIGIN"), "{e}");
        let e = config(&[("TOLLGATE_ROUTES", "{}")]).unwrap_err();
        assert!(e.to_string().starts_with("TOLLGATE_ROUTES"), "{e}");
        let e = config(&[("TOLLGATE_JWT_ISSUER", "https://i")]).unwrap_err();
        assert!(matches!(
            e,
            ConfigError::PartialJwt {
                missing: "TOLLGATE_JWT_AUDIENCE"
            }
        ));
    }

    #[test]
    fn cache_ttl_never_goes_below_cloudflares_minimum() {
        assert_eq!(
            config(&[("TOLLGATE_KV_CACHE_TTL", "5")])
                .unwrap()
                .kv_cache_ttl,
            60
        );
    }
}
