//! Usage adjustments: a metered feature's count moved by hand, with a reason.

use super::{By, answer, api};
use crate::admin::adjustments::{self, AdjustmentRequest};
use crate::http::auth::min;
use crate::http::request::json_bytes;
use crate::http::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(adjust))
}

/// Moves the current period's count of a metered feature by `delta`, never below 0.
#[utoipa::path(
    post,
    path = "/v1/admin/usage-adjustments",
    tag = "admin",
    params(
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
    ),
    request_body = AdjustmentRequestDoc,
    responses((status = 201, description = "The adjustment", body = Adjustment)),
    extensions(("x-role" = json!("support")), ("x-codes" = json!(["invalid_request", "unknown_customer", "unknown_feature", "not_metered", "invalid_delta", "reason_required", "invalid_reason", "invalid_customer"])))
)]
async fn adjust(
    State(state): State<AppState>,
    By(by, _): By<min::Support>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: AdjustmentRequest = json_bytes(&bytes)?;
    let adjusted = adjustments::create(
        &state.pool,
        &state.catalog,
        &by,
        &request,
        state.clock.now(),
    )
    .await
    .map_err(api)?;
    Ok(answer(StatusCode::CREATED, adjusted, &by))
}

/// `POST /v1/admin/usage-adjustments`' body.
#[derive(Debug, ToSchema)]
#[schema(as = AdjustmentRequest)]
#[expect(dead_code, reason = "the document's description of the body")]
struct AdjustmentRequestDoc {
    customer: String,
    feature: String,
    /// A whole number other than 0.
    delta: i64,
    reason: String,
}

/// A usage adjustment and the count it left.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct Adjustment {
    id: i64,
    customer: String,
    feature: String,
    delta: i64,
    /// What the count moved (never below 0).
    applied: i64,
    /// The period's count after the adjustment.
    used: i64,
    period_start: Option<String>,
    resets_at: Option<String>,
    reason: Option<String>,
    created_at: String,
    created_by: String,
    revision: Option<i64>,
}
