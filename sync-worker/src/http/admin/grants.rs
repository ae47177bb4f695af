//! Grants: a feature's amount given to a customer on top of their plan, listed, made and ended.

use super::{By, CustomerParams, answer, api};
use crate::admin::AdminError;
use crate::admin::grants::{self, GrantRequest};
use crate::http::auth::{Authorized, min};
use crate::http::request::{json_bytes, query};
use crate::http::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_grants, create_grant))
        .routes(routes!(end_grant))
}

/// Grants, newest first (at most 500), each `live`, `expired` or `ended`.
#[utoipa::path(
    get,
    path = "/v1/admin/grants",
    tag = "admin",
    params(
        CustomerParams,
    ),
    responses((status = 200, description = "The list", body = GrantList)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_request"])))
)]
async fn list_grants(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<CustomerParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = query(params)?;
    let items = grants::list(&state.pool, params.customer.as_deref(), state.clock.now())
        .await
        .map_err(api)?;
    Ok(Json(items))
}

/// Grants a customer a feature's amount on top of their plan, until `expires_at` or ended.
#[utoipa::path(
    post,
    path = "/v1/admin/grants",
    tag = "admin",
    params(
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
    ),
    request_body = GrantRequestDoc,
    responses((status = 201, description = "The grant", body = Grant, links(
        ("EndGrant" = (operation_id = "end_grant", parameters(("path.id" = "$response.body#/id")))),
    ))),
    extensions(("x-role" = json!("support")), ("x-codes" = json!(["invalid_request", "unknown_customer", "unknown_feature", "invalid_amount", "invalid_expiry", "reason_required", "invalid_reason", "invalid_customer"])))
)]
async fn create_grant(
    State(state): State<AppState>,
    By(by, _): By<min::Support>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: GrantRequest = json_bytes(&bytes)?;
    let grant = grants::create(
        &state.pool,
        &state.catalog,
        &by,
        &request,
        state.clock.now(),
    )
    .await
    .map_err(api)?;
    Ok(answer(StatusCode::CREATED, grant, &by))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EndParams {
    reason: Option<String>,
}

/// Ends a live grant now.
#[utoipa::path(
    delete,
    path = "/v1/admin/grants/{id}",
    tag = "admin",
    params(
        ("id" = String, Path, description = "The grant's id"),
        EndParams,
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
    ),
    responses((status = 200, description = "The ended grant", body = Grant)),
    extensions(("x-role" = json!("support")), ("x-codes" = json!(["invalid_request", "unknown_grant", "invalid_reason"])))
)]
async fn end_grant(
    State(state): State<AppState>,
    By(by, _): By<min::Support>,
    Path(id): Path<String>,
    params: Result<Query<EndParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let Ok(id) = id.parse::<i64>() else {
        return Err(api(AdminError::refused(
            404,
            "unknown_grant",
            format!("no live grant has id `{id}`"),
        )));
    };
    let grant = grants::end(
        &state.pool,
        &state.catalog,
        &by,
        id,
        params.reason.as_deref(),
        state.clock.now(),
    )
    .await
    .map_err(api)?;
    Ok(answer(StatusCode::OK, grant, &by))
}

/// `POST /v1/admin/grants`' body.
#[derive(Debug, ToSchema)]
#[schema(as = GrantRequest)]
#[expect(dead_code, reason = "the document's description of the body")]
struct GrantRequestDoc {
    customer: String,
    feature: String,
    /// A whole number above 0 or `"unlimited"` (gauge, metered), or `true` (boolean).
    #[schema(value_type = Value)]
    amount: Value,
    /// An RFC 3339 instant in the future.
    expires_at: Option<String>,
    reason: String,
}

/// A grant as the API shows it.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct Grant {
    id: i64,
    customer: String,
    feature: String,
    /// A whole number, `"unlimited"`, or `true`.
    #[schema(value_type = Value)]
    amount: Value,
    expires_at: Option<String>,
    reason: Option<String>,
    created_at: String,
    created_by: String,
    ended_at: Option<String>,
    ended_by: Option<String>,
    /// `live`, `expired` or `ended`.
    status: String,
    /// The customer's snapshot revision after the change, when it changed.
    revision: Option<i64>,
}

/// Grants, newest first.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct GrantList {
    items: Vec<Grant>,
}
