//! Who is calling the `/v1` API, and what they may do.
//!
//! A caller presents `Authorization: Bearer <token>`. The bootstrap token (`TOLLGATE_API_TOKEN`)
//! is compared in constant time and is `admin`, actor `bootstrap`; any other token is looked up
//! by its SHA-256 among the live rows of `api_tokens` (made with `tollgate tokens create`, shown
//! once, never stored in clear), and its actor is `token:<name>`.
//!
//! Roles are ordered, each including the ones before it: `app` < `viewer` < `support` <
//! `admin`. A route declares the least role it needs (in the HTTP module's `auth`); a missing or
//! unknown token is 401 `unauthorized`, a role too low 403 `forbidden`, naming the role needed.

mod rate_limit;

pub(crate) use rate_limit::RateLimiter;

use chrono::{DateTime, Utc};
use rand::Rng as _;
use rand::distr::Alphanumeric;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use subtle::ConstantTimeEq;

use crate::db;

/// The actor of the bootstrap token.
pub(crate) const BOOTSTRAP_ACTOR: &str = "bootstrap";
/// The prefix of the tokens tollgate makes, so a leaked one is recognisable.
pub(crate) const TOKEN_PREFIX: &str = "tg_";
/// Random characters after the prefix (about 238 bits).
const TOKEN_CHARS: usize = 40;

/// What a token may do. Each role includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Your backend: check, usage, gauges, customers, checkouts, portal, plan changes, cancel,
    /// orders.
    App,
    /// Reads everything under /v1/admin and /v1/analytics.
    Viewer,
    /// Grants, usage adjustments, webhook replay, revoking a subscription now.
    Support,
    /// Refunds, tokens, API keys.
    Admin,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::App => "app",
            Role::Viewer => "viewer",
            Role::Support => "support",
            Role::Admin => "admin",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "app" => Role::App,
            "viewer" => Role::Viewer,
            "support" => Role::Support,
            "admin" => Role::Admin,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// `bootstrap`, or `token:<name>`; also what idempotency keys are scoped by.
    pub(crate) actor: String,
    pub(crate) role: Role,
}

impl Caller {
    /// Whether the caller's role includes `needed`.
    pub(crate) fn has(&self, needed: Role) -> bool {
        self.role >= needed
    }
}

/// Lowercase hex SHA-256 of `token`, the only form in which tokens are stored.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token.
pub(crate) fn generate() -> SecretString {
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(TOKEN_CHARS)
        .map(char::from)
        .collect();
    SecretString::from(format!("{TOKEN_PREFIX}{random}"))
}

/// The caller `presented` identifies, if any.
pub(crate) async fn authenticate(
    conn: &mut PgConnection,
    bootstrap: &SecretString,
    presented: &str,
) -> Result<Option<Caller>, sqlx::Error> {
    let presented = presented.trim();
    if presented.is_empty() {
        return Ok(None);
    }
    if bool::from(
        presented
            .as_bytes()
            .ct_eq(bootstrap.expose_secret().as_bytes()),
    ) {
        return Ok(Some(Caller {
            actor: BOOTSTRAP_ACTOR.to_owned(),
            role: Role::Admin,
        }));
    }
    let Some((name, role)) = db::api_tokens::live_by_digest(conn, &digest(presented)).await? else {
        return Ok(None);
    };
    Ok(Role::parse(&role).map(|role| Caller {
        actor: format!("token:{name}"),
        role,
    }))
}

/// Why a token could not be made or revoked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("a token name is 1 to 64 letters, digits, `-`, `_` or `.`; `{0}` is not")]
    InvalidName(String),
    #[error("a live token is already named `{0}`: revoke it first or pick another name")]
    NameTaken(String),
    #[error("no live token is named `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Makes a token named `name` with `role`, audited as done by `actor`. Returns its row and its
/// secret, which is not stored and cannot be shown again.
pub async fn create(
    conn: &mut PgConnection,
    name: &str,
    role: Role,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(db::api_tokens::TokenRow, SecretString), TokenError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(TokenError::InvalidName(name.to_owned()));
    }
    let secret = generate();
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let row = db::api_tokens::insert(
        &mut tx,
        name,
        role.as_str(),
        &digest(secret.expose_secret()),
        actor,
        now,
    )
    .await?
    .ok_or_else(|| TokenError::NameTaken(name.to_owned()))?;
    let after = serde_json::to_value(&row).unwrap_or_default();
    db::audit::record_entry(
        &mut tx,
        &db::audit::Entry {
            actor,
            role: Some(Role::Admin.as_str()),
            action: "tokens.create",
            subject: &format!("token:{name}"),
            after: Some(&after),
            ..Default::default()
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((row, secret))
}

/// Revokes the live token named `name`, audited as done by `actor`.
pub async fn revoke(
    conn: &mut PgConnection,
    name: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<db::api_tokens::TokenRow, TokenError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let row = db::api_tokens::revoke(&mut tx, name, now)
        .await?
        .ok_or_else(|| TokenError::NotFound(name.to_owned()))?;
    let after = serde_json::to_value(&row).unwrap_or_default();
    db::audit::record_entry(
        &mut tx,
        &db::audit::Entry {
            actor,
            role: Some(Role::Admin.as_str()),
            action: "tokens.revoke",
            subject: &format!("token:{name}"),
            after: Some(&after),
            ..Default::default()
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_before_them() {
        assert!(Role::Admin > Role::Support && Role::Support > Role::Viewer);
        assert!(Role::Viewer > Role::App);
        for role in [Role::App, Role::Viewer, Role::Support, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }

    #[test]
    fn tokens_are_random_and_stored_as_sha256() {
        let a = generate();
        let b = generate();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().starts_with(TOKEN_PREFIX));
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
