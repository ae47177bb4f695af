//! Authentication and roles at the HTTP edge: the [`Authorized`] extractor, whose type names
//! the least role a route needs, and [`require`], the same check as a router layer.
//!
//! ```ignore
//! // A handler that only admins reach:
//! async fn refund(Authorized(caller, ..): Authorized<min::Admin>, ...) { ... }
//! // Every route of a router:
//! Router::new().route(...).route_layer(auth::require::<min::App>(state.clone()))
//! ```
//!
//! The caller is resolved once per request and kept in the request's extensions, so a layer
//! and an extractor on the same route look the token up once.
//!
//! Failed authentications count against the client address's bucket
//! (`TOLLGATE_AUTH_FAILURE_BURST`, refilled at one a second): once it is empty the address is
//! answered 429 `rate_limited` with `Retry-After` instead of 401, so tokens cannot be guessed at
//! speed. A request with a valid token is never held back by it.

use super::request::{retry_after_seconds, with_retry_after};
use super::{ApiError, AppState};
use crate::auth::{self, Caller, Role};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::FromExtractorLayer;
use axum::response::{IntoResponse, Response};
use std::marker::PhantomData;
use std::net::SocketAddr;

/// The least role a route needs, as a type.
pub(crate) trait MinRole: Send + Sync + 'static {
    const ROLE: Role;
}

/// The role markers of [`Authorized`].
pub(crate) mod min {
    use super::{MinRole, Role};

    macro_rules! marker {
        ($($(#[$attribute:meta])* $name:ident => $role:expr),*) => {$(
            $(#[$attribute])*
            #[derive(Debug, Clone, Copy)]
            pub(crate) struct $name;
            impl MinRole for $name {
                const ROLE: Role = $role;
            }
        )*};
    }
    marker!(
        App => Role::App,
        Viewer => Role::Viewer,
        Support => Role::Support,
        Admin => Role::Admin
    );
}

/// An authenticated caller whose role includes `R`'s.
#[derive(Debug, Clone)]
pub(crate) struct Authorized<R>(pub Caller, pub PhantomData<R>);

/// Layer form of [`Authorized`]: every route under it needs at least role `R`.
pub(crate) fn require<R: MinRole>(state: AppState) -> FromExtractorLayer<Authorized<R>, AppState> {
    axum::middleware::from_extractor_with_state(state)
}

/// The answer to a token whose role is below `needed`.
pub(crate) fn forbidden(caller: &Caller, needed: Role) -> ApiError {
    ApiError::Refused {
        status: StatusCode::FORBIDDEN,
        code: "forbidden",
        message: format!(
            "this call needs role `{needed}` (or higher); the token presented has role `{}`",
            caller.role
        ),
    }
}

/// 429 `rate_limited` with `Retry-After`.
fn rate_limited(caller: &Caller, wait: std::time::Duration) -> Response {
    let seconds = retry_after_seconds(wait);
    let message = format!(
        "`{}` made more requests than TOLLGATE_RATE_LIMIT allows; retry in {seconds} s",
        caller.actor
    );
    too_many(message, seconds)
}

fn too_many(message: String, seconds: u64) -> Response {
    let refused = ApiError::Refused {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "rate_limited",
        message,
    };
    with_retry_after(refused.into_response(), seconds)
}

impl<R: MinRole> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = caller(parts, state).await?;
        if !caller.has(R::ROLE) {
            return Err(forbidden(&caller, R::ROLE).into_response());
        }
        Ok(Authorized(caller, PhantomData))
    }
}

/// The request's caller: looked up (and counted against its rate limit) once per request.
async fn caller(parts: &mut Parts, state: &AppState) -> Result<Caller, Response> {
    if let Some(caller) = parts.extensions.get::<Caller>() {
        return Ok(caller.clone());
    }
    let caller = match authenticate(parts, state).await {
        Ok(caller) => caller,
        Err(ApiError::Unauthorized) => return Err(failed_authentication(parts, state)),
        Err(error) => return Err(error.into_response()),
    };
    if let Some(limiter) = &state.rate_limiter
        && let Err(wait) = limiter.take(&caller.actor)
    {
        return Err(rate_limited(&caller, wait));
    }
    parts.extensions.insert(caller.clone());
    Ok(caller)
}

/// The answer to a missing or unknown token: 401, or 429 once the client address has failed
/// too often.
fn failed_authentication(parts: &Parts, state: &AppState) -> Response {
    let address = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    if let (Some(limiter), Some(address)) = (&state.auth_failures, address)
        && let Err(wait) = limiter.take(&format!("address:{address}"))
    {
        let seconds = retry_after_seconds(wait);
        return too_many(
            format!(
                "{address} failed to authenticate too often (TOLLGATE_AUTH_FAILURE_BURST); retry in {seconds} s"
            ),
            seconds,
        );
    }
    ApiError::Unauthorized.into_response()
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let presented = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let mut conn = state.pool.acquire().await?;
    auth::authenticate(&mut conn, &state.api_token, presented)
        .await?
        .ok_or(ApiError::Unauthorized)
}
