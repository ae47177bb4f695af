//! Finding a customer and reading about them: the search, the support view, failed payments.

use super::api;
use crate::admin::{failed_payments, support_view};
use crate::http::auth::{Authorized, min};
use crate::http::request::query;
use crate::http::{ApiError, AppState};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(support))
        .routes(routes!(failed))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    q: Option<String>,
}

/// Customers whose external id, Polar id or e-mail (any case) starts with `q`.
#[utoipa::path(
    get,
    path = "/v1/admin/customers",
    tag = "admin",
    params(
        SearchParams,
    ),
    responses((status = 200, description = "The list", body = FoundList)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_request", "query_too_short"])))
)]
async fn search(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = query(params)?;
    let found = support_view::search(&state.pool, params.q.as_deref().unwrap_or_default())
        .await
        .map_err(api)?;
    Ok(Json(found))
}

/// The support view of one customer: subscriptions, orders, snapshot, decisions, usage,
/// grants, adjustments, webhooks and audit entries.
#[utoipa::path(
    get,
    path = "/v1/admin/customers/{customer}",
    tag = "admin",
    params(
        ("customer" = String, Path, description = "The app's user id"),
    ),
    responses((status = 200, description = "The support view", body = Object)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_request", "unknown_customer"])))
)]
async fn support(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    Path(customer): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = support_view::view(&state.pool, &state.catalog, &customer, state.clock.now())
        .await
        .map_err(api)?;
    Ok(Json(view))
}

/// Subscriptions `past_due` or `unpaid`, with what is due.
#[utoipa::path(
    get,
    path = "/v1/admin/failed-payments",
    tag = "admin",
    responses((status = 200, description = "The list", body = Items)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!([])))
)]
async fn failed(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
) -> Result<Json<Value>, ApiError> {
    let items = failed_payments::list(&state.pool, &state.catalog, state.clock.now())
        .await
        .map_err(api)?;
    Ok(Json(items))
}

/// A list answer.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct Items {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
}

/// A customer the search found.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct Found {
    customer: Option<String>,
    polar_id: String,
    email: Option<String>,
    /// The plan of the current snapshot.
    plan: Option<String>,
    /// The status of the customer's most recently changed subscription.
    status: Option<String>,
}

/// Customers found, at most 50.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct FoundList {
    items: Vec<Found>,
}
