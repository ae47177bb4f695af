//! Polar's REST API (`/v1/...`) over the simulator's state.
//!
//! Every request passes one gate, in Polar's order: the `Polar-Version` header (unknown versions
//! answer 404; the version is echoed on every response), Bearer authentication (401), then the
//! per-token rate limit (429). List paths answer with and without their trailing slash.

mod catalog;
mod checkouts;
mod customers;
pub mod error;
mod orders;
pub mod query;
mod subscriptions;
mod usage;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::de::DeserializeOwned;
use serde_json::json;
use uuid::Uuid;

use crate::sim::Shared;
use error::ApiError;

/// API versions Polar serves (Deprecated, Current, Next).
pub const VERSIONS: &[&str] = &["2026-04", "2026-10", "2027-01"];
/// The version assumed when a request names none.
pub const CURRENT_VERSION: &str = "2026-10";

pub fn router(shared: Arc<Shared>) -> Router {
    let routes: Vec<(&str, MethodRouter<Arc<Shared>>)> = vec![
        ("/v1/products/", get(catalog::list_products)),
        ("/v1/products/{id}", get(catalog::get_product)),
        ("/v1/benefits/", get(catalog::list_benefits)),
        ("/v1/benefits/{id}", get(catalog::get_benefit)),
        ("/v1/benefit-grants/", get(catalog::list_grants)),
        ("/v1/meters/", get(catalog::list_meters)),
        ("/v1/meters/{id}", get(catalog::get_meter)),
        (
            "/v1/customers/",
            get(customers::list).post(customers::create),
        ),
        (
            "/v1/customers/{id}",
            get(customers::get)
                .patch(customers::update)
                .delete(customers::delete),
        ),
        (
            "/v1/customers/external/{external_id}",
            get(customers::get_external)
                .patch(customers::update_external)
                .delete(customers::delete_external),
        ),
        ("/v1/customers/{id}/state", get(customers::state)),
        (
            "/v1/customers/external/{external_id}/state",
            get(customers::state_external),
        ),
        ("/v1/customer-sessions/", post(customers::create_session)),
        ("/v1/subscriptions/", get(subscriptions::list)),
        (
            "/v1/subscriptions/{id}",
            get(subscriptions::get)
                .patch(subscriptions::update)
                .delete(subscriptions::revoke),
        ),
        ("/v1/orders/", get(orders::list)),
        ("/v1/orders/{id}", get(orders::get)),
        (
            "/v1/refunds/",
            get(orders::list_refunds).post(orders::create_refund),
        ),
        (
            "/v1/checkouts/",
            get(checkouts::list).post(checkouts::create),
        ),
        ("/v1/checkouts/{id}", get(checkouts::get)),
        ("/v1/events/ingest", post(usage::ingest)),
        ("/v1/customer-meters/", get(usage::list_customer_meters)),
        ("/v1/customer-meters/{id}", get(usage::get_customer_meter)),
    ];
    let mut router = Router::new();
    for (path, handler) in routes {
        router = router.route(path, handler.clone());
        let alternate = match path.strip_suffix('/') {
            Some(bare) => bare.to_owned(),
            None => format!("{path}/"),
        };
        router = router.route(&alternate, handler);
    }
    router
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Version, authentication, rate limit and request counting for every API request.
async fn gate(State(sim): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let version = match req.headers().get("polar-version").map(|v| v.to_str()) {
        None => CURRENT_VERSION.to_owned(),
        Some(Ok(v)) if VERSIONS.contains(&v) => v.to_owned(),
        Some(_) => return ApiError::UnknownVersion.into_response(),
    };
    let mut resp = match authorize(&sim, &req) {
        Err(e) => e.into_response(),
        Ok(()) => {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
            sim.count_request(req.method().as_str(), &route);
            let fault = sim
                .api_faults()
                .take(req.method().as_str(), req.uri().path());
            match fault {
                Some(fault) => fault.response(),
                None => next.run(req).await,
            }
        }
    };
    if let Ok(v) = HeaderValue::from_str(&version) {
        resp.headers_mut().insert("polar-version", v);
    }
    resp
}

fn authorize(sim: &Shared, req: &Request) -> Result<(), ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    if !sim.token_matches(token) {
        return Err(ApiError::Unauthorized);
    }
    sim.check_rate_limit(token)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })
}

/// A path id that must be a UUID (422 otherwise, as Polar answers).
pub(crate) fn path_uuid(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::invalid(
            &["path", "id"],
            "Input should be a valid UUID",
            "uuid_parsing",
            json!(raw),
        )
    })
}

/// A JSON body; malformed or mistyped input is a 422 naming the problem.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let kind = if e.is_syntax() || e.is_eof() {
            "json_invalid"
        } else {
            "value_error"
        };
        ApiError::invalid(&["body"], e.to_string(), kind, serde_json::Value::Null)
    })
}

/// A response with a status code and a JSON body.
pub(crate) fn created(value: serde_json::Value) -> Response {
    (axum::http::StatusCode::CREATED, axum::Json(value)).into_response()
}

/// Polar's metadata rules: at most 50 pairs, keys 1–40 characters, values strings of 1–500
/// characters, numbers or booleans.
pub(crate) fn check_metadata(
    field: &str,
    meta: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), ApiError> {
    use serde_json::Value;
    if meta.len() > 50 {
        return Err(ApiError::invalid(
            &["body", field],
            "Object should have at most 50 items",
            "too_long",
            Value::Null,
        ));
    }
    for (k, v) in meta {
        if k.is_empty() || k.chars().count() > 40 {
            return Err(ApiError::invalid(
                &["body", field, k.as_str(), "[key]"],
                "String should have between 1 and 40 characters",
                "string_too_long",
                json!(k),
            ));
        }
        let ok = match v {
            Value::String(s) => !s.is_empty() && s.chars().count() <= 500,
            Value::Number(_) | Value::Bool(_) => true,
            _ => false,
        };
        if !ok {
            return Err(ApiError::invalid(
                &["body", field, k.as_str()],
                "Input should be a string of 1 to 500 characters, a number or a boolean",
                "value_error",
                v.clone(),
            ));
        }
    }
    Ok(())
}
