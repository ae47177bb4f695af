//! The control API under `/_sim`: drive scenarios, move the clock, steer webhook delivery and
//! the rate limit, and read what happened. No authentication: the simulator is a local tool.
//!
//! Errors are `{"code", "message"}` with 404 (unknown reference), 422 (bad input) or 409 (a
//! state that does not allow the step); nothing changes when a step is refused.
//!
//! It also serves the pages behind checkout and portal URLs, so a developer clicking through a
//! local app can "pay": `GET /checkout/{client_secret}` shows the checkout and its button
//! completes it and redirects to the `success_url`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::SimError;
use crate::ratelimit::RateLimit;
use crate::scenario::{Action, Scenario};
use crate::sim::Shared;
use crate::webhook::{Endpoint, FaultRule};

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sim/health", get(|| async { Json(json!({"ok": true})) }))
        .route("/_sim/info", get(info))
        .route("/_sim/scenarios", post(scenario))
        .route("/_sim/clock", get(clock).put(set_clock))
        .route("/_sim/clock/advance", post(advance))
        .route(
            "/_sim/webhooks/endpoint",
            get(get_endpoint).put(put_endpoint).delete(delete_endpoint),
        )
        .route(
            "/_sim/webhooks/faults",
            get(get_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_sim/webhooks/events", get(events))
        .route("/_sim/webhooks/attempts", get(attempts))
        .route("/_sim/webhooks/settle", post(settle))
        .route("/_sim/rate-limit", put(set_rate_limit))
        .route("/_sim/rate-limit/throttle", post(throttle))
        .route("/_sim/requests", get(requests).delete(reset_requests))
        .route(
            "/_sim/api-faults",
            get(get_api_faults)
                .post(add_api_fault)
                .delete(clear_api_faults),
        )
        .route("/checkout/{secret}", get(checkout_page))
        .route("/checkout/{secret}/pay", post(checkout_pay))
        .route(
            "/portal",
            get(|| async { Html("<h1>Customer portal (simulated)</h1>") }),
        )
        .with_state(shared)
}

/// A refused control request.
#[derive(Debug)]
pub struct ControlError(SimError);

impl From<SimError> for ControlError {
    fn from(e: SimError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            SimError::NotFound { .. } => StatusCode::NOT_FOUND,
            SimError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::CONFLICT,
        };
        (
            status,
            Json(json!({"code": self.0.code(), "message": self.0.to_string()})),
        )
            .into_response()
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(body).map_err(|e| ControlError(SimError::invalid("body", e.to_string())))
}

async fn info(State(sim): State<Arc<Shared>>) -> Json<Value> {
    Json(sim.read(|st| {
        let products: Vec<Value> = st
            .products
            .values()
            .map(|p| json!({"id": p.id, "name": p.name, "plan": p.metadata.get("plan"), "price_amount": p.price.amount}))
            .collect();
        json!({
            "base_url": st.base_url,
            "organization_id": st.organization_id,
            "now": crate::clock::polar_time(st.clock.now()),
            "products": products,
            "customers": st.customers.values().filter(|c| c.deleted_at.is_none()).count(),
            "subscriptions": st.subscriptions.len(),
        })
    }))
}

async fn scenario(
    State(sim): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let scenario: Scenario = parse(&body)?;
    let outcome = sim.run(scenario)?;
    Ok(Json(json!(outcome)))
}

async fn clock(State(sim): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "now": sim.read(|st| crate::clock::polar_time(st.clock.now())) }))
}

#[derive(Debug, Deserialize)]
struct AdvanceBody {
    #[serde(default)]
    days: i64,
    #[serde(default)]
    hours: i64,
    #[serde(default)]
    seconds: i64,
    to: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    silent: bool,
}

async fn advance(
    State(sim): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let b: AdvanceBody = parse(&body)?;
    let action = Action::Advance {
        days: b.days,
        hours: b.hours,
        seconds: b.seconds,
        to: b.to,
    };
    let outcome = sim.run(Scenario {
        action,
        silent: b.silent,
    })?;
    Ok(Json(json!(outcome)))
}

#[derive(Debug, Deserialize)]
struct SetClockBody {
    now: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    silent: bool,
}

/// Sets the clock to an instant (forward only: renewals on the way happen, as with advance).
async fn set_clock(
    State(sim): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let b: SetClockBody = parse(&body)?;
    let action = Action::Advance {
        days: 0,
        hours: 0,
        seconds: 0,
        to: Some(b.now),
    };
    let outcome = sim.run(Scenario {
        action,
        silent: b.silent,
    })?;
    Ok(Json(json!(outcome)))
}

async fn get_endpoint(State(sim): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(sim.webhooks.endpoint()))
}

async fn put_endpoint(
    State(sim): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let endpoint: Endpoint = parse(&body)?;
    sim.webhooks
        .set_endpoint(Some(endpoint.clone()))
        .map_err(|e| ControlError(SimError::invalid("secret", e.to_string())))?;
    Ok(Json(json!(endpoint)))
}

async fn delete_endpoint(State(sim): State<Arc<Shared>>) -> StatusCode {
    let _ = sim.webhooks.set_endpoint(None);
    StatusCode::NO_CONTENT
}

async fn get_faults(State(sim): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(sim.webhooks.faults()))
}

async fn add_fault(
    State(sim): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let rule: FaultRule = parse(&body)?;
    if rule.count == 0 {
        return Err(ControlError(SimError::invalid(
            "count",
            "must be at least 1",
        )));
    }
    sim.webhooks.add_fault(rule);
    Ok(Json(json!(sim.webhooks.faults())))
}

async fn clear_faults(State(sim): State<Arc<Shared>>) -> StatusCode {
    sim.webhooks.clear_faults();
    StatusCode::NO_CONTENT
}

async fn events(State(sim): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(sim.webhooks.events()))
}

async fn attempts(State(sim): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(sim.webhooks.attempts()))
}

async fn settle(State(sim): State<Arc<Shared>>) -> Json<Value> {
    sim.webhooks.settled().await;
    Json(json!({"settled": true}))
}

async fn set_rate_limit(
    State(sim): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let limit: RateLimit = parse(&body)?;
    sim.set_rate_limit(limit);
    Ok(Json(json!(limit)))
}

#[derive(Debug, Deserialize)]
struct ThrottleBody {
    requests: u32,
    #[serde(default = "one")]
    retry_after: u64,
}

fn one() -> u64 {
    1
}

async fn throttle(
    State(sim): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let b: ThrottleBody = parse(&body)?;
    sim.throttle(b.requests, b.retry_after);
    Ok(Json(
        json!({"requests": b.requests, "retry_after": b.retry_after}),
    ))
}

async fn get_api_faults(State(sim): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(sim.api_faults().list()))
}

async fn add_api_fault(
    State(sim): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let rule: crate::api_faults::ApiFault = parse(&body)?;
    if !(400..=599).contains(&rule.status) {
        return Err(SimError::invalid("status", "must be an HTTP error status, 400 to 599").into());
    }
    let mut faults = sim.api_faults();
    faults.add(rule);
    Ok(Json(json!(faults.list())))
}

async fn clear_api_faults(State(sim): State<Arc<Shared>>) -> StatusCode {
    sim.api_faults().clear();
    StatusCode::NO_CONTENT
}

async fn requests(State(sim): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(sim.request_counts()))
}

async fn reset_requests(State(sim): State<Arc<Shared>>) -> StatusCode {
    sim.reset_request_counts();
    StatusCode::NO_CONTENT
}

fn checkout_by_secret(
    sim: &Shared,
    secret: &str,
) -> Option<(uuid::Uuid, String, String, i64, String)> {
    sim.read(|st| {
        let c = st.checkouts.values().find(|c| c.client_secret == secret)?;
        let p = st.products.get(&c.product_id)?;
        Some((
            c.id,
            c.status.as_str().to_owned(),
            p.name.clone(),
            p.price.amount,
            c.success_url.clone(),
        ))
    })
}

async fn checkout_page(State(sim): State<Arc<Shared>>, Path(secret): Path<String>) -> Response {
    let Some((_, status, product, amount, _)) = checkout_by_secret(&sim, &secret) else {
        return (
            StatusCode::NOT_FOUND,
            Html("<h1>Checkout not found</h1>".to_owned()),
        )
            .into_response();
    };
    let escaped: String = product
        .chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            c => c.to_string(),
        })
        .collect();
    let price = format!("{}.{:02}", amount / 100, amount % 100);
    let button = if status == "open" {
        format!(
            r#"<form method="post" action="/checkout/{secret}/pay"><button>Pay {price}</button></form>"#
        )
    } else {
        format!("<p>This checkout is {status}.</p>")
    };
    // The empty icon link keeps browsers from asking for /favicon.ico, which the API refuses.
    Html(format!("<!doctype html><title>Checkout</title><link rel=\"icon\" href=\"data:,\"><h1>{escaped}</h1><p>{price} per period (simulated)</p>{button}"))
        .into_response()
}

async fn checkout_pay(
    State(sim): State<Arc<Shared>>,
    Path(secret): Path<String>,
) -> Result<Response, ControlError> {
    let Some((id, _, _, _, success_url)) = checkout_by_secret(&sim, &secret) else {
        return Err(ControlError(SimError::not_found("checkout", secret)));
    };
    sim.run(
        Action::CompleteCheckout {
            checkout: id,
            product: None,
        }
        .into(),
    )?;
    Ok(Redirect::to(&success_url).into_response())
}
