//! `/v1/leases`: allowance of exact features leased to the edge, and its settlement.
//!
//! The edge worker calls these with its `app`-role token (`TOLLGATE_USAGE_TOKEN`, the same
//! Bearer token it posts usage with): a lease spends the customer's budget just as a usage
//! event or a `consume` call does, and those are `app` calls too.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::auth;
use super::{ApiError, AppState};
use crate::leases::{self, DEFAULT_TTL, Grant, Granted, LeaseError, MAX_TTL, Settled};

pub(crate) fn router(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(grant))
        .routes(routes!(settle))
        .route_layer(auth::require::<auth::min::App>(state))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LeaseRequest)]
struct GrantRequest {
    /// The app's user id.
    customer: String,
    /// An exact feature (`exact = true` in the catalog).
    feature: String,
    /// The units wanted; at most these are granted.
    #[schema(minimum = 1)]
    want: u64,
    /// How long the lease lasts, 1 to 3 600 seconds (300 by default).
    #[schema(minimum = 1, maximum = 3600)]
    ttl_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SettleRequest)]
struct SettleRequest {
    /// The units the holder spent, at most the lease's `granted`.
    used: u64,
}

/// Leases up to `want` units of an exact feature's budget for the period to the edge: 201 with
/// the lease, or 200 with `granted: 0`, `id: null` and the engine's refusal in `decision` when
/// nothing is left.
#[utoipa::path(
    post,
    path = "/v1/leases",
    tag = "leases",
    request_body = GrantRequest,
    responses(
        (status = 201, description = "The lease", body = Granted),
        (status = 200, description = "Nothing granted: nothing is left, or the plan refuses the feature", body = Granted),
    ),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["invalid_request", "unknown_feature", "not_exact", "invalid_want", "invalid_ttl"])))
)]
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
    if !crate::text::storable(&request.customer) || !crate::text::storable(&request.feature) {
        return Err(ApiError::InvalidRequest(
            "the body holds U+0000 in a string, which no value may contain".to_owned(),
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

/// Settles a lease: its `used` units are counted as usage and the rest returned to the budget.
/// The same again, or after the lease expired, answers the first settlement with
/// `duplicate: true`.
#[utoipa::path(
    post,
    path = "/v1/leases/{id}/settle",
    tag = "leases",
    params(("id" = String, Path, format = "uuid", description = "The lease's id")),
    request_body = SettleRequest,
    responses((status = 200, description = "The settlement", body = Settled)),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["invalid_request", "unknown_lease", "invalid_used"])))
)]
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
