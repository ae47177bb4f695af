//! `/v1/leases`: allowance of exact features leased to the edge, and its settlement.
//!
//! The edge worker calls these with its `app`-role token (`TOLLGATE_USAGE_TOKEN`, the same
//! Bearer token it posts usage with): a lease spends the customer's budget just as a usage
//! event or a `consume` call does, and those are `app` calls too.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::auth;
use super::{ApiError, AppState};
use crate::leases::{self, DEFAULT_TTL, Grant, Granted, LeaseError, MAX_TTL, Settled};

pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/leases", post(grant))
        .route("/v1/leases/{id}/settle", post(settle))
        .route_layer(auth::require::<auth::min::App>(state))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantRequest {
    customer: String,
    feature: String,
    want: u64,
    /// How long the lease lasts, 1 to 3 600 seconds (300 by default).
    ttl_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettleRequest {
    used: u64,
}

/// `POST /v1/leases` `{customer, feature, want, ttl_seconds?}` → 201 with the lease, or 200
/// with `granted: 0` (and the engine's refusal in `decision`) when nothing is left.
#[tracing::instrument(skip_all)]
async fn grant(
    State(state): State<AppState>,
    request: Result<Json<GrantRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Granted>), ApiError> {
    let Json(request) =
        request.map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))?;
    if request.customer.trim().is_empty() || request.feature.trim().is_empty() {
        return Err(ApiError::InvalidRequest(
            "`customer` and `feature` must not be empty".to_owned(),
        ));
    }
    if request.want == 0 {
        return Err(refused("invalid_want", "`want` must be at least 1".into()));
    }
    let ttl = match request.ttl_seconds {
        None => DEFAULT_TTL,
        Some(s) if (1..=MAX_TTL.as_secs()).contains(&s) => std::time::Duration::from_secs(s),
        Some(s) => {
            return Err(refused(
                "invalid_ttl",
                format!(
                    "`ttl_seconds` is {s}: a lease lasts 1 to {} seconds",
                    MAX_TTL.as_secs()
                ),
            ));
        }
    };
    let request = Grant {
        customer: request.customer,
        feature: request.feature,
        want: request.want,
        ttl,
    };
    let granted = leases::grant(&state.pool, &state.catalog, &request, state.clock.now())
        .await
        .map_err(from_lease)?;
    let status = if granted.granted > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(granted)))
}

/// `POST /v1/leases/{id}/settle` `{used}` → the settlement; the same again answers the first
/// settlement with `duplicate: true`.
#[tracing::instrument(skip_all, fields(lease = %id))]
async fn settle(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Result<Json<SettleRequest>, JsonRejection>,
) -> Result<Json<Settled>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::Refused {
        status: StatusCode::NOT_FOUND,
        code: "unknown_lease",
        message: format!("`{id}` is not a lease id"),
    })?;
    let Json(request) =
        request.map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))?;
    let settled = leases::settle(&state.pool, id, request.used, state.clock.now())
        .await
        .map_err(from_lease)?;
    Ok(Json(settled))
}

fn refused(code: &'static str, message: String) -> ApiError {
    ApiError::Refused {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code,
        message,
    }
}

fn from_lease(error: LeaseError) -> ApiError {
    match error {
        LeaseError::Refused(refusal, message) => ApiError::Refused {
            status: match refusal {
                leases::Refusal::UnknownLease => StatusCode::NOT_FOUND,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
            code: refusal.code(),
            message,
        },
        other => ApiError::internal(other),
    }
}
