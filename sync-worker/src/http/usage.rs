//! `/v1` usage: `POST /v1/usage` (batches of events), `PUT /v1/gauges/{customer}` (levels),
//! and the consuming form of `POST /v1/check`.
//!
//! A whole request is refused (4xx, nothing stored) only when it cannot be read: malformed
//! JSON, no `events` array, more than [`MAX_BATCH`] events. Otherwise each event is judged on
//! its own and the answer lists the refused ones. After a commit, the customers whose usage
//! changed get their snapshots rebuilt in the background ([`crate::snapshot::freshness`]).

use super::auth;
use super::request::body_bytes;
use super::{ApiError, AppState};
use crate::db::metered_customers::Changed;
use crate::snapshot::freshness;
use crate::usage::consume::{self, Consume, Consumed};
use crate::usage::event::{MAX_BATCH, read_batch};
use crate::usage::{gauges, ingest};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The largest usage body: 10 000 events with modest properties.
pub(crate) const MAX_USAGE_BODY_BYTES: usize = 16 * 1024 * 1024;

pub(crate) fn router(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest_batch))
        .routes(routes!(set_gauges))
        .route_layer(auth::require::<auth::min::App>(state))
        .layer(DefaultBodyLimit::max(MAX_USAGE_BODY_BYTES))
}

/// The body of `POST /v1/usage`, as documented. It is read by [`read_batch`], which takes a
/// JSON object only (a derived `Deserialize` would also take the array `[[...]]`).
#[derive(Debug, ToSchema)]
#[schema(as = UsageBatch)]
struct Batch {
    /// Up to 10 000 events `{customer, feature, amount?, id, timestamp?, properties?}`; each
    /// is judged on its own.
    #[schema(value_type = Vec<Object>)]
    #[expect(dead_code, reason = "describes the body for the OpenAPI document only")]
    events: Vec<Value>,
}

/// The levels set by `PUT /v1/gauges/{customer}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GaugesSet {
    customer: String,
    /// Each gauge's new level.
    gauges: BTreeMap<String, u64>,
}

/// Metered usage events, counted once each.
///
/// A whole batch is refused only when it cannot be read; otherwise each refused event is listed
/// in `rejected` with its index and the others are counted.
#[utoipa::path(
    post,
    path = "/v1/usage",
    tag = "usage",
    request_body = Batch,
    responses((status = 200, description = "What was counted", body = ingest::Receipt)),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["unreadable_body", "payload_too_large", "invalid_json", "batch_too_large"])))
)]
#[tracing::instrument(skip_all, fields(events))]
pub(crate) async fn ingest_batch(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ingest::Receipt>, ApiError> {
    let body = body_bytes(body, MAX_USAGE_BODY_BYTES)?;
    let events = read_batch(&body).map_err(|error| {
        ApiError::InvalidJson(format!(
            "the body must be {{\"events\": [...]}} in JSON: {error}"
        ))
    })?;
    tracing::Span::current().record("events", events.len());
    if events.len() > MAX_BATCH {
        return Err(ApiError::Refused {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "batch_too_large",
            message: format!(
                "a batch holds at most {MAX_BATCH} events; this one has {}",
                events.len()
            ),
        });
    }
    let now = state.clock.now();
    let receipt = ingest::ingest_raw(&state.pool, &state.catalog, &events, now)
        .await
        .map_err(ApiError::internal)?;
    refresh_later(&state, receipt.changed.clone());
    tracing::info!(
        accepted = receipt.accepted,
        duplicates = receipt.duplicates,
        rejected = receipt.rejected.len(),
        "usage batch ingested"
    );
    Ok(Json(receipt))
}

/// Sets gauge levels: `{"projects": 3, ...}`.
#[utoipa::path(
    put,
    path = "/v1/gauges/{customer}",
    tag = "usage",
    params(("customer" = String, Path, description = "The app's user id")),
    request_body(content = BTreeMap<String, u64>, description = "Each gauge's level"),
    responses((status = 200, description = "The levels set", body = GaugesSet)),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["unreadable_body", "invalid_json", "invalid_request", "unknown_feature", "not_gauge", "invalid_amount"])))
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn set_gauges(
    State(state): State<AppState>,
    auth::Authorized(caller, _): auth::Authorized<auth::min::App>,
    headers: axum::http::HeaderMap,
    Path(customer): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<GaugesSet>, ApiError> {
    let body = body.map_err(|rejection| ApiError::UnreadableBody(rejection.body_text()))?;
    let levels: Map<String, Value> = serde_json::from_slice(&body).map_err(|error| {
        ApiError::InvalidJson(format!(
            "the body must be a JSON object of gauge levels such as {{\"projects\": 3}}: {error}"
        ))
    })?;
    if customer.trim().is_empty() || customer.len() > crate::usage::event::MAX_ID_LEN {
        return Err(ApiError::InvalidRequest(
            "the customer id must be a non-empty string of at most 255 bytes".to_owned(),
        ));
    }
    if levels.is_empty() {
        return Err(ApiError::InvalidRequest(
            "the body names no gauge".to_owned(),
        ));
    }
    let levels =
        gauges::validate(&state.catalog, &levels).map_err(|refusal| ApiError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: refusal.code(),
            message: refusal.message(),
        })?;
    let request_id = super::request::request_id(&headers);
    let by = crate::db::audit::Entry {
        actor: &caller.actor,
        role: Some(caller.role.as_str()),
        request_id: Some(&request_id),
        ..Default::default()
    };
    let changed = gauges::set(
        &state.pool,
        &state.catalog,
        &customer,
        &levels,
        &by,
        state.clock.now(),
    )
    .await
    .map_err(ApiError::internal)?;
    refresh_now(&state, vec![changed]).await;
    Ok(Json(GaugesSet {
        customer,
        gauges: levels,
    }))
}

/// `POST /v1/check` with `"consume": true`: decide and count in one step.
pub(crate) async fn consume(state: &AppState, request: Consume) -> Result<Json<Value>, ApiError> {
    let outcome = consume::consume(&state.pool, &state.catalog, &request, state.clock.now())
        .await
        .map_err(ApiError::internal)?;
    match outcome {
        Consumed::Decided { answer, changed } => {
            if let Some(reason) = answer.get("reason").and_then(serde_json::Value::as_str) {
                crate::metrics::check(reason);
            }
            refresh_now(state, changed.into_iter().collect()).await;
            Ok(Json(answer))
        }
        Consumed::Replayed(answer) => Ok(Json(answer)),
        Consumed::NotMetered => Err(ApiError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "not_metered",
            message: format!(
                "feature `{}` is not metered: only metered features can be consumed",
                request.feature
            ),
        }),
        Consumed::IdTaken => Err(ApiError::Refused {
            status: StatusCode::CONFLICT,
            code: "duplicate_event",
            message: format!(
                "event id `{}` of customer `{}` was already counted by a usage event",
                request.event_id.unwrap_or_default(),
                request.customer
            ),
        }),
    }
}

/// Rebuilds the changed customers' snapshots after a batch, off the request's path (a batch
/// may name thousands of customers). A rebuild that fails or is cut short leaves its mark for
/// the usage jobs.
fn refresh_later(state: &AppState, changed: Vec<Changed>) {
    if changed.is_empty() {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move { refresh_now(&state, changed).await });
}

/// Rebuilds the changed customers' snapshots that are due, before answering: one customer's
/// `consume` or gauge update is followed by a snapshot that shows it. A customer held back by
/// the coalescing window is tried again once the window has passed (the trailing edge); by
/// then another request may have rebuilt it, and the retry finds nothing to do.
async fn refresh_now(state: &AppState, changed: Vec<Changed>) {
    let customers: Vec<String> = changed.into_iter().map(|c| c.customer).collect();
    let rebuilt = refresh(state, &customers).await;
    if rebuilt < customers.len() {
        let state = state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(freshness::COALESCE_WINDOW).await;
            refresh(&state, &customers).await;
        });
    }
}

async fn refresh(state: &AppState, customers: &[String]) -> usize {
    let now = state.clock.now();
    match freshness::refresh(&state.pool, &state.catalog, customers, now).await {
        Ok(rebuilt) => rebuilt,
        Err(error) => {
            tracing::warn!(
                error = %crate::error::error_chain(&error),
                "rebuilding snapshots after usage failed; the usage jobs will retry"
            );
            customers.len()
        }
    }
}
