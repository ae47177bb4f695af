//! `/v1` usage: `POST /v1/usage` (batches of events), `PUT /v1/gauges/{customer}` (levels),
//! and the consuming form of `POST /v1/check`.
//!
//! A whole request is refused (4xx, nothing stored) only when it cannot be read: malformed
//! JSON, no `events` array, more than [`MAX_BATCH`] events. Otherwise each event is judged on
//! its own and the answer lists the refused ones. After a commit, the customers whose usage
//! changed get their snapshots rebuilt in the background ([`crate::snapshot::freshness`]).

use super::auth;
use super::{ApiError, AppState};
use crate::db::metered_customers::Changed;
use crate::snapshot::freshness;
use crate::usage::consume::{self, Consume, Consumed};
use crate::usage::event::{MAX_BATCH, read_batch};
use crate::usage::{gauges, ingest};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{post, put};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

/// The largest usage body: 10 000 events with modest properties.
pub(crate) const MAX_USAGE_BODY_BYTES: usize = 16 * 1024 * 1024;

pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/usage", post(ingest_batch))
        .route("/v1/gauges/{customer}", put(set_gauges))
        .route_layer(auth::require::<auth::min::App>(state))
        .layer(DefaultBodyLimit::max(MAX_USAGE_BODY_BYTES))
}

/// `POST /v1/usage`: `{"events": [...]}` → `{accepted, duplicates, rejected}`.
#[tracing::instrument(skip_all, fields(events))]
pub(crate) async fn ingest_batch(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ingest::Receipt>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(MAX_USAGE_BODY_BYTES)
        } else {
            ApiError::UnreadableBody(rejection.body_text())
        }
    })?;
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

/// `PUT /v1/gauges/{customer}`: `{"projects": 3, ...}` sets those levels.
#[tracing::instrument(skip_all)]
pub(crate) async fn set_gauges(
    State(state): State<AppState>,
    auth::Authorized(caller, _): auth::Authorized<auth::min::App>,
    headers: axum::http::HeaderMap,
    Path(customer): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
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
    let request_id = headers
        .get(super::billing::REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
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
    Ok(Json(json!({ "customer": customer, "gauges": levels })))
}

/// `POST /v1/check` with `"consume": true`: decide and count in one step.
pub(crate) async fn consume(state: &AppState, request: Consume) -> Result<Json<Value>, ApiError> {
    let outcome = consume::consume(&state.pool, &state.catalog, &request, state.clock.now())
        .await
        .map_err(ApiError::internal)?;
    match outcome {
        Consumed::Decided { answer, changed } => {
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
