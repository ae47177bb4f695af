//! The audit log, newest first.

use super::api;
use crate::db;
use crate::http::auth::{Authorized, min};
use crate::http::request::query;
use crate::http::{ApiError, AppState};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    customer: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    since: Option<String>,
    limit: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    tag = "admin",
    params(
        AuditParams,
    ),
    responses((status = 200, description = "The list", body = AuditList)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_request"])))
)]
async fn audit(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = query(params)?;
    let since = params
        .since
        .as_deref()
        .map(|since| crate::admin::instant("since", since))
        .transpose()
        .map_err(api)?;
    let filter = db::audit::Filter {
        customer: params.customer.as_deref().filter(|s| !s.is_empty()),
        actor: params.actor.as_deref().filter(|s| !s.is_empty()),
        action: params.action.as_deref().filter(|s| !s.is_empty()),
        since,
    };
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    let mut conn = state.pool.acquire().await?;
    let items = db::audit::list(&mut conn, &filter, limit).await?;
    Ok(Json(json!({ "items": items })))
}

/// An audit row.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct AuditEntry {
    id: i64,
    at: String,
    actor: String,
    role: Option<String>,
    action: String,
    subject: String,
    customer: Option<String>,
    #[schema(value_type = Value)]
    before: Option<Value>,
    #[schema(value_type = Value)]
    after: Option<Value>,
    reason: Option<String>,
    request_id: Option<String>,
    #[schema(value_type = Value)]
    details: Value,
}

/// Audit rows, newest first.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct AuditList {
    items: Vec<AuditEntry>,
}
