//! Edge API keys: listed, made (the key shown once) and revoked.

use super::{By, CustomerParams, answer, api};
use crate::admin::{AdminError, api_keys};
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
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// Edge API keys (never the keys themselves).
#[utoipa::path(
    get,
    path = "/v1/admin/api-keys",
    tag = "admin",
    params(
        CustomerParams,
    ),
    responses((status = 200, description = "The list", body = ApiKeyList)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_request"])))
)]
async fn list_keys(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<CustomerParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = query(params)?;
    let rows = api_keys::list(&state.pool, params.customer.as_deref())
        .await
        .map_err(api)?;
    let items: Vec<Value> = rows.iter().map(api_keys::view).collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    customer: String,
    name: String,
}

/// A new edge API key for a customer; `key` is in this answer only.
#[utoipa::path(
    post,
    path = "/v1/admin/api-keys",
    tag = "admin",
    params(
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
    ),
    request_body = KeyBody,
    responses((status = 201, description = "The key", body = ApiKey, links(
        ("RevokeKey" = (operation_id = "revoke_key", parameters(("path.id" = "$response.body#/id")))),
    ))),
    extensions(("x-role" = json!("admin")), ("x-codes" = json!(["invalid_request", "invalid_customer", "invalid_name"])))
)]
async fn create_key(
    State(state): State<AppState>,
    By(by, _): By<min::Admin>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: KeyBody = json_bytes(&bytes)?;
    let (row, key) = api_keys::create(
        &state.pool,
        &by,
        &request.customer,
        &request.name,
        state.clock.now(),
    )
    .await
    .map_err(api)?;
    let mut view = api_keys::view(&row);
    if let Some(fields) = view.as_object_mut() {
        fields.insert(
            "key".to_owned(),
            json!(secrecy::ExposeSecret::expose_secret(&key)),
        );
    }
    Ok(answer(StatusCode::CREATED, view, &by))
}

/// Revokes an edge API key: it stops opening the edge with the next publish.
#[utoipa::path(
    delete,
    path = "/v1/admin/api-keys/{id}",
    tag = "admin",
    params(
        ("id" = String, Path, description = "The API key's id"),
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
    ),
    responses((status = 200, description = "The revoked key", body = ApiKey)),
    extensions(("x-role" = json!("admin")), ("x-codes" = json!(["invalid_request", "unknown_api_key"])))
)]
async fn revoke_key(
    State(state): State<AppState>,
    By(by, _): By<min::Admin>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(api(AdminError::refused(
            404,
            "unknown_api_key",
            format!("no live API key has id `{id}`"),
        )));
    };
    let row = api_keys::revoke(&state.pool, &by, id, state.clock.now())
        .await
        .map_err(api)?;
    Ok(answer(StatusCode::OK, api_keys::view(&row), &by))
}

/// An edge API key (the key itself only in the answer that made it).
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct ApiKey {
    id: i64,
    customer: String,
    name: String,
    created_at: String,
    created_by: String,
    revoked_at: Option<String>,
    revoked_by: Option<String>,
    /// Shown once, when the key is made.
    key: Option<String>,
}

/// Edge API keys.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct ApiKeyList {
    items: Vec<ApiKey>,
}
