//! `/v1/admin`: support's and admins' calls over HTTP — each route's role, its body, its
//! answer — a file per area, each registering its routes. What each call does is in
//! [`crate::admin`].
//!
//! Reads need role `viewer`; grants, usage adjustments and webhook replay `support`; API keys
//! `admin`. Each handler takes [`Authorized`] (or `By`, which adds the audit actor) first, so
//! a caller without the role is turned away before the request is read. Mutating calls echo
//! `X-Request-Id` (the caller's, or one made here), which their audit row records.

mod adjustments;
mod api_keys;
mod audit;
mod customers;
mod exports;
mod grants;
mod webhooks;

use super::auth::{Authorized, MinRole};
use super::request::{request_id, with_request_id};
use super::{ApiError, AppState};
use crate::admin::{Actor, AdminError};
use crate::auth::Caller;
use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use std::marker::PhantomData;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(customers::routes())
        .merge(grants::routes())
        .merge(adjustments::routes())
        .merge(webhooks::routes())
        .merge(audit::routes())
        .merge(exports::routes())
        .merge(api_keys::routes())
        .layer(DefaultBodyLimit::max(64 * 1024))
}

/// An admin operation's refusal or failure as the API answers it.
fn api(error: AdminError) -> ApiError {
    match error {
        AdminError::Refused {
            status,
            code,
            message,
        } => ApiError::Refused {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message,
        },
        AdminError::Database(error) => ApiError::from(error),
        other => ApiError::internal(other),
    }
}

/// The audit actor of a request whose caller's role includes `R`'s.
struct By<R>(Actor, PhantomData<R>);

impl<R: MinRole> FromRequestParts<AppState> for By<R> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Authorized(caller, _) = Authorized::<R>::from_request_parts(parts, state).await?;
        Ok(By(actor(&caller, &parts.headers), PhantomData))
    }
}

/// The audit actor of a request: its caller and its request id.
fn actor(caller: &Caller, headers: &HeaderMap) -> Actor {
    Actor {
        actor: caller.actor.clone(),
        role: caller.role.as_str(),
        request_id: Some(request_id(headers)),
    }
}

/// `status` with `body`, and the request id echoed.
fn answer(status: StatusCode, body: Value, by: &Actor) -> Response {
    let response = (status, Json(body)).into_response();
    match by.request_id.as_deref() {
        Some(id) => with_request_id(response, id),
        None => response,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CustomerParams {
    customer: Option<String>,
}
