//! `/v1`: the current snapshot of a customer, and server-side checks against it.

use super::{ApiError, AppState};
use crate::db;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_gate::{Account, Gate, Snapshot, Timestamp, build_snapshot};
use utoipa::ToSchema;

/// The customer's current snapshot.
///
/// The snapshot JSON the engine reads (plan, limits, usage, grants, `issued_at`, `stale_after`).
#[utoipa::path(
    get,
    path = "/v1/entitlements/{customer}",
    tag = "entitlements",
    params(("customer" = String, Path, description = "The app's user id (Polar `external_id`)")),
    responses((status = 200, description = "The current snapshot", body = Object)),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["unknown_customer", "invalid_request"])))
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn snapshot(
    State(state): State<AppState>,
    Path(customer): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    match db::snapshots::current(&mut conn, &customer).await? {
        Some((_, snapshot)) => Ok(Json(snapshot)),
        None => Err(ApiError::UnknownCustomer(customer)),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CheckRequest {
    customer: String,
    feature: String,
    /// Units asked for (default 1).
    #[serde(default = "one")]
    #[schema(default = 1)]
    amount: u64,
    /// Count the amount when allowed, in the same step (metered features).
    #[serde(default)]
    consume: bool,
    /// With `consume`: the caller's id for this use, so a retry counts once.
    event_id: Option<String>,
    /// With `consume`: stored with the usage event.
    #[schema(value_type = Option<Object>)]
    properties: Option<serde_json::Map<String, Value>>,
}

/// The engine's answer: may the customer do this now, and how much is left.
#[derive(Debug, ToSchema)]
#[schema(as = Decision)]
#[expect(
    dead_code,
    reason = "the document's description of the engine's Decision"
)]
pub(crate) struct DecisionDoc {
    allowed: bool,
    /// Why: `ok`, `limit_reached`, `not_in_plan`, `unknown_feature`, …
    reason: String,
    /// What is left after this request's outcome; `null` when unlimited.
    remaining: Option<u64>,
}

fn one() -> u64 {
    1
}

/// The engine's Decision for `{customer, feature, amount}` at the server's time.
///
/// A customer tollgate has never heard of is on the catalog's default plan, like any user who
/// has not subscribed. With `consume: true` an allowed amount of a metered feature is counted in
/// the same step (`event_id` makes a retry count once).
#[utoipa::path(
    post,
    path = "/v1/check",
    tag = "entitlements",
    request_body = CheckRequest,
    responses((status = 200, description = "The Decision", body = DecisionDoc)),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["invalid_request", "not_metered", "duplicate_event"])))
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn check(
    State(state): State<AppState>,
    request: Result<Json<CheckRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(request) =
        request.map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))?;
    if request.customer.trim().is_empty() {
        return Err(ApiError::InvalidRequest(
            "`customer` must not be empty".to_owned(),
        ));
    }
    let strings = [
        Some(&request.customer),
        Some(&request.feature),
        request.event_id.as_ref(),
    ];
    let properties = request.properties.iter().flat_map(|map| map.iter());
    if !strings
        .into_iter()
        .flatten()
        .all(|text| crate::text::storable(text))
        || !properties
            .into_iter()
            .all(|(key, value)| crate::text::storable(key) && crate::text::storable_json(value))
    {
        return Err(ApiError::InvalidRequest(
            "the body holds U+0000 in a string, which no value may contain".to_owned(),
        ));
    }
    if request.feature.trim().is_empty() {
        return Err(ApiError::InvalidRequest(
            "`feature` must not be empty".to_owned(),
        ));
    }
    if request.consume {
        let request = crate::usage::consume::Consume {
            customer: request.customer,
            feature: request.feature,
            amount: request.amount,
            event_id: request.event_id.filter(|id| !id.trim().is_empty()),
            properties: request.properties,
        };
        return super::usage::consume(&state, request).await;
    }
    let now = Timestamp::from(state.clock.now());
    let mut conn = state.pool.acquire().await?;
    let snapshot: Snapshot = match db::snapshots::current(&mut conn, &request.customer).await? {
        Some((_, stored)) => serde_json::from_value(stored).map_err(ApiError::internal)?,
        None => {
            let account: Account = serde_json::from_value(json!({ "customer": request.customer }))
                .map_err(ApiError::internal)?;
            build_snapshot(&state.catalog, &account, now)
        }
    };
    drop(conn);
    let gate = Gate::new(&snapshot).map_err(ApiError::internal)?;
    let decision = gate.check(&request.feature, request.amount, now);
    crate::metrics::check(decision.reason.as_str());
    Ok(Json(
        serde_json::to_value(decision).map_err(ApiError::internal)?,
    ))
}
