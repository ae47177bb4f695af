//! Resolving a credential to a customer id, with the isolate's caches in front of KV and of
//! the issuer's JWKS endpoint.

use std::rc::Rc;

use worker::{Env, Fetch, Url};

use super::api_key::{key_hash, kv_key};
use super::jwks::KeySet;
use super::jwt::UnverifiedJwt;
use super::{Credential, IdentityError, MAX_CREDENTIAL_LEN, cookie_value};
use crate::config::{Config, JwtConfig};
use crate::isolate::{self, KEY_CACHE_MS, bounded_insert};

/// Binding of the KV namespace holding snapshots and key entries.
pub const KV_BINDING: &str = "ENTITLEMENTS";
/// At most one JWKS re-fetch for unknown keys in this long.
const JWKS_REFETCH_MS: i64 = 30_000;

/// The customer the request's `Authorization` header, or else its session cookie, names.
pub async fn customer(
    authorization: Option<String>,
    cookie: Option<String>,
    env: &Env,
    config: &Config,
) -> Result<String, IdentityError> {
    let session = config
        .jwt
        .as_ref()
        .zip(cookie.as_deref())
        .and_then(|(jwt, cookie)| cookie_value(cookie, jwt.cookie.as_deref()?));
    if authorization.is_none()
        && let Some(token) = session
    {
        let jwt = config.jwt.as_ref().ok_or(IdentityError::JwtNotConfigured)?;
        return token_customer(token, jwt).await;
    }
    match Credential::from_header(authorization.as_deref())? {
        Credential::ApiKey(key) => api_key_customer(key, env, config).await,
        Credential::Jwt(token) => {
            let jwt = config.jwt.as_ref().ok_or(IdentityError::JwtNotConfigured)?;
            token_customer(token, jwt).await
        }
    }
}

async fn api_key_customer(key: &str, env: &Env, config: &Config) -> Result<String, IdentityError> {
    let hash = key_hash(key);
    let now = isolate::now_ms();
    let cached = isolate::with(|s| s.keys.get(&hash).cloned())
        .filter(|(_, read_at)| now.saturating_sub(*read_at) < KEY_CACHE_MS);
    let customer = match cached {
        Some((customer, _)) => customer,
        None => {
            let kv = env
                .kv(KV_BINDING)
                .map_err(|e| IdentityError::Unavailable(format!("KV binding: {e}")))?;
            let customer = kv
                .get(&kv_key(&hash))
                .cache_ttl(config.kv_cache_ttl)
                .text()
                .await
                .map_err(|e| IdentityError::Unavailable(format!("KV: {e}")))?
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty());
            isolate::with(|s| bounded_insert(&mut s.keys, hash, (customer.clone(), now)));
            customer
        }
    };
    customer.ok_or(IdentityError::UnknownApiKey)
}

async fn token_customer(token: &str, config: &JwtConfig) -> Result<String, IdentityError> {
    if token.len() > MAX_CREDENTIAL_LEN {
        return Err(IdentityError::TooLong);
    }
    let now = isolate::now_ms();
    let now_secs = now / 1000;
    // Keyed by the token's hash: bounded memory per entry, whatever the token's size.
    let token_hash = key_hash(token);
    if let Some(id) = isolate::with(|s| s.tokens.get(&token_hash).cloned())
        && now_secs < id.expires_at
    {
        return Ok(id.customer);
    }
    let keys = jwks(config, now, false).await?;
    let verified = match UnverifiedJwt::parse(token)?.verify(&keys) {
        Err(IdentityError::UnknownKey(kid)) => {
            // The issuer may have rotated its keys since they were fetched.
            let may_refetch = isolate::with(|s| {
                s.jwks_refetched_at
                    .is_none_or(|at| now.saturating_sub(at) >= JWKS_REFETCH_MS)
            });
            if !may_refetch {
                return Err(IdentityError::UnknownKey(kid));
            }
            isolate::with(|s| s.jwks_refetched_at = Some(now));
            let keys = jwks(config, now, true).await?;
            UnverifiedJwt::parse(token)?.verify(&keys)?
        }
        other => other?,
    };
    let identity = verified.validate(config, now_secs)?;
    isolate::with(|s| bounded_insert(&mut s.tokens, token_hash, identity.clone()));
    Ok(identity.customer)
}

/// The issuer's keys, from the isolate's cache unless they are older than configured or
/// `force` is set.
async fn jwks(config: &JwtConfig, now: i64, force: bool) -> Result<Rc<KeySet>, IdentityError> {
    if !force
        && let Some((keys, _)) = isolate::with(|s| s.jwks.clone())
            .filter(|(_, at)| now.saturating_sub(*at) < config.jwks_cache_ms)
    {
        return Ok(keys);
    }
    match fetch_jwks(&config.jwks_url).await {
        Ok(keys) => {
            let keys = Rc::new(keys);
            isolate::with(|s| s.jwks = Some((keys.clone(), now)));
            Ok(keys)
        }
        // Keys that could not be refreshed are still the issuer's keys.
        Err(e) => isolate::with(|s| s.jwks.clone())
            .map(|(keys, _)| keys)
            .ok_or(e),
    }
}

async fn fetch_jwks(url: &str) -> Result<KeySet, IdentityError> {
    let unavailable = |e: worker::Error| IdentityError::Unavailable(e.to_string());
    let url = Url::parse(url).map_err(|e| IdentityError::Unavailable(e.to_string()))?;
    let mut response = Fetch::Url(url).send().await.map_err(unavailable)?;
    if response.status_code() != 200 {
        return Err(IdentityError::Unavailable(format!(
            "the JWKS endpoint answered {}",
            response.status_code()
        )));
    }
    KeySet::parse(&response.text().await.map_err(unavailable)?)
}
