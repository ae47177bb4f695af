//! The HTTP API: Polar's webhooks, the `/v1` API for apps, and health probes.

mod admin;
mod analytics;
pub(crate) mod auth;
mod billing;
mod clerk;
mod entitlements;
mod error;
mod guard;
mod health;
mod leases;
mod metrics;
mod openapi;
mod request;
mod usage;
mod webhooks;

pub(crate) use error::ApiError;
pub(crate) use webhooks::MAX_BODY_BYTES;

use crate::clock::Clock;
use crate::signature::WebhookSecret;
use crate::webhooks::{Applier, Inbox};
use axum::Extension;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use secrecy::SecretString;
use sqlx::PgPool;
use std::sync::Arc;
use tollgate_gate::Catalog;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

/// The service's router. Its routes are registered with their OpenAPI operations (see
/// [`openapi`]): a route is added to one of the areas' routers with `routes!(handler)`.
pub(crate) fn router(state: AppState) -> Router {
    let (router, document) = api(state.clone()).split_for_parts();
    let document = openapi::Document(axum::body::Bytes::from(
        openapi::finish(document).to_string(),
    ));
    router
        .fallback(guard::not_found)
        .method_not_allowed_fallback(guard::method_not_allowed)
        .layer(axum::middleware::from_fn(guard::refuse_nul))
        .layer(Extension(document))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn api(state: AppState) -> OpenApiRouter<AppState> {
    // Clerk's route is always there; without CLERK_WEBHOOK_SECRET it answers 404 `not_configured`.
    let webhooks = OpenApiRouter::new()
        .routes(routes!(webhooks::receive))
        .routes(routes!(clerk::receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let v1 = OpenApiRouter::new()
        .routes(routes!(entitlements::snapshot))
        .routes(routes!(entitlements::check))
        .route_layer(auth::require::<auth::min::App>(state.clone()))
        .layer(DefaultBodyLimit::max(64 * 1024));
    let probes = OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(openapi::serve));
    OpenApiRouter::new()
        .merge(webhooks)
        .merge(v1)
        .merge(usage::router(state.clone()))
        .merge(leases::router(state.clone()))
        .merge(billing::router(state))
        .merge(admin::router())
        .merge(analytics::router())
        .merge(probes)
}
