//! `/v1`: the current snapshot of a customer, and server-side checks against it.

use super::{ApiError, AppState};
use crate::db;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_gate::{Account, Gate, Snapshot, Timestamp, build_snapshot};

/// `GET /v1/entitlements/{external_customer_id}`: the customer's current snapshot.
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

#[derive(Debug, Deserialize)]
pub(crate) struct CheckRequest {
    customer: String,
    feature: String,
    #[serde(default = "one")]
    amount: u64,
    /// Count the amount when allowed, in the same step (metered features).
    #[serde(default)]
    consume: bool,
    /// With `consume`: the caller's id for this use, so a retry counts once.
    event_id: Option<String>,
    properties: Option<serde_json::Map<String, Value>>,
}

fn one() -> u64 {
    1
}

/// `POST /v1/check`: the engine's Decision for `{customer, feature, amount}` at the server's
/// time. A customer tollgate has never heard of is on the catalog's default plan, like any
/// user who has not subscribed.
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
