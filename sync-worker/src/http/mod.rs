//! The HTTP API: Polar's webhooks, the `/v1` API for apps, and health probes.

mod admin;
mod analytics;
pub(crate) mod auth;
mod billing;
mod clerk;
mod entitlements;
mod error;
mod health;
mod leases;
mod metrics;
mod usage;
mod webhooks;

pub(crate) use error::ApiError;
pub(crate) use webhooks::MAX_BODY_BYTES;

use crate::clock::Clock;
use crate::signature::WebhookSecret;
use crate::webhooks::{Applier, Inbox};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use secrecy::SecretString;
use sqlx::PgPool;
use std::sync::Arc;
use tollgate_gate::Catalog;
use tower_http::trace::TraceLayer;

/// What every handler may use.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) pool: PgPool,
    pub(crate) inbox: Inbox,
    pub(crate) applier: Applier,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) secret: Arc<WebhookSecret>,
    pub(crate) api_token: SecretString,
    pub(crate) clock: Clock,
    /// The billing operations (Polar's API behind them).
    pub(crate) billing: crate::billing::Billing,
    /// Clerk's webhook secret; `None` turns `POST /webhooks/clerk` off.
    pub(crate) clerk_secret: Option<Arc<WebhookSecret>>,
    /// The per-token rate limit of `/v1`; `None` when TOLLGATE_RATE_LIMIT is not set.
    pub(crate) rate_limiter: Option<Arc<crate::auth::RateLimiter>>,
    /// Failed authentications per client address; `None` when TOLLGATE_AUTH_FAILURE_BURST is 0.
    pub(crate) auth_failures: Option<Arc<crate::auth::RateLimiter>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

pub(crate) fn router(state: AppState) -> Router {
    let mut webhooks = Router::new().route("/webhooks/polar", post(webhooks::receive));
    if state.clerk_secret.is_some() {
        webhooks = webhooks.route("/webhooks/clerk", post(clerk::receive));
    }
    let webhooks = webhooks.layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let v1 = Router::new()
        .route("/v1/entitlements/{customer}", get(entitlements::snapshot))
        .route("/v1/check", post(entitlements::check))
        .route_layer(auth::require::<auth::min::App>(state.clone()))
        .layer(DefaultBodyLimit::max(64 * 1024));
    let probes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    Router::new()
        .merge(webhooks)
        .merge(v1)
        .merge(usage::router(state.clone()))
        .merge(leases::router(state.clone()))
        .merge(billing::router(state.clone()))
        .merge(admin::router())
        .merge(analytics::router())
        .merge(probes)
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
