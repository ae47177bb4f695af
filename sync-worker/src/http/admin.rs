//! `/v1/admin`: support's and admins' calls over HTTP — each route's role, its body, its
//! answer. What each one does is in [`crate::admin`].
//!
//! Reads need role `viewer`; grants, usage adjustments and webhook replay `support`; API keys
//! `admin`. Each handler takes [`Authorized`] (or `By`, which adds the audit actor) first, so
//! a caller without the role is turned away before the request is read. Mutating calls echo `X-Request-Id` (the caller's, or one
//! made here), which their audit row records.

use super::auth::{Authorized, MinRole, min};
use super::request::{json_body, request_id, with_request_id};
use super::{ApiError, AppState};
use crate::admin::adjustments::{self, AdjustmentRequest};
use crate::admin::exports::{self, Export, Range};
use crate::admin::grants::{self, GrantRequest};
use crate::admin::{Actor, AdminError, api_keys, failed_payments, support_view};
use crate::auth::Caller;
use crate::db;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::marker::PhantomData;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(support))
        .routes(routes!(list_grants, create_grant))
        .routes(routes!(end_grant))
        .routes(routes!(adjust))
        .routes(routes!(failed))
        .routes(routes!(webhooks))
        .routes(routes!(replay))
        .routes(routes!(audit))
        .routes(routes!(export))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .layer(DefaultBodyLimit::max(64 * 1024))
}

/// An admin operation's refusal or failure as the API answers it.
fn api(error: AdminError) -> ApiError {
    match error {
        AdminError::Refused {
            status,
            code,
            message,
        } => ApiError::Refused {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message,
        },
        AdminError::Database(error) => ApiError::from(error),
        other => ApiError::internal(other),
    }
}

/// The audit actor of a request whose caller's role includes `R`'s.
struct By<R>(Actor, PhantomData<R>);

impl<R: MinRole> FromRequestParts<AppState> for By<R> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Authorized(caller, _) = Authorized::<R>::from_request_parts(parts, state).await?;
        Ok(By(actor(&caller, &parts.headers), PhantomData))
    }
}

/// The audit actor of a request: its caller and its request id.
fn actor(caller: &Caller, headers: &HeaderMap) -> Actor {
    Actor {
        actor: caller.actor.clone(),
        role: caller.role.as_str(),
        request_id: Some(request_id(headers)),
    }
}

/// `status` with `body`, and the request id echoed.
fn answer(status: StatusCode, body: Value, by: &Actor) -> Response {
    let response = (status, Json(body)).into_response();
    match by.request_id.as_deref() {
        Some(id) => with_request_id(response, id),
        None => response,
    }
}

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|error| ApiError::InvalidRequest(format!("the body does not parse: {error}")))?;
    json_body(value)
}

fn query<T>(params: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    params
        .map(|Query(params)| params)
        .map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CustomerParams {
    customer: Option<String>,
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
    let request: GrantRequest = body(&bytes)?;
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
    let request: AdjustmentRequest = body(&bytes)?;
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct WebhookParams {
    status: Option<String>,
    limit: Option<i64>,
}

/// The newest stored webhook deliveries, or only the failed ones.
#[utoipa::path(
    get,
    path = "/v1/admin/webhooks",
    tag = "admin",
    params(
        WebhookParams,
    ),
    responses((status = 200, description = "The list", body = WebhookList)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_request"])))
)]
async fn webhooks(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<WebhookParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = query(params)?;
    let failed_only = match params.status.as_deref() {
        None | Some("") => false,
        Some("failed") => true,
        Some(other) => {
            return Err(ApiError::InvalidRequest(format!(
                "`status` is `failed` or absent, not `{other}`"
            )));
        }
    };
    let limit = params.limit.unwrap_or(50).clamp(1, 1000);
    let mut conn = state.pool.acquire().await?;
    let rows = db::webhook_events::list(&mut conn, failed_only, limit).await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            json!({
                "webhook_id": row.webhook_id,
                "type": row.event_type,
                "status": row.status,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "received_at": row.received_at,
                "next_attempt_at": row.next_attempt_at,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// Applies a stored webhook delivery again.
#[utoipa::path(
    post,
    path = "/v1/admin/webhooks/{id}/replay",
    tag = "admin",
    params(
        ("id" = String, Path, description = "The delivery's `webhook-id`"),
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
    ),
    responses((status = 200, description = "Applied again", body = Replayed)),
    extensions(("x-role" = json!("support")), ("x-codes" = json!(["invalid_request", "unknown_webhook"])))
)]
async fn replay(
    State(state): State<AppState>,
    By(by, _): By<min::Support>,
    Path(webhook_id): Path<String>,
) -> Result<Response, ApiError> {
    let entry = db::audit::Entry {
        actor: &by.actor,
        role: Some(by.role),
        request_id: by.request_id.as_deref(),
        ..Default::default()
    };
    let outcome = crate::webhooks::replay_audited(
        &state.pool,
        &state.catalog,
        &webhook_id,
        &entry,
        state.clock.now(),
    )
    .await?;
    match outcome {
        Some(status) => Ok(answer(
            StatusCode::OK,
            json!({ "webhook_id": webhook_id, "status": status.as_str() }),
            &by,
        )),
        None => Err(api(AdminError::refused(
            404,
            "unknown_webhook",
            format!("no stored webhook has id `{webhook_id}`"),
        ))),
    }
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RangeParams {
    from: Option<String>,
    to: Option<String>,
}

/// A streamed CSV export with a header row: `customers.csv`, `subscriptions.csv`, `orders.csv`,
/// `usage.csv` or `audit.csv`.
#[utoipa::path(
    get,
    path = "/v1/admin/exports/{file}",
    tag = "admin",
    params(
        ("file" = String, Path, description = "`customers.csv`, `subscriptions.csv`, `orders.csv`, `usage.csv` or `audit.csv`"),
        RangeParams,
    ),
    responses((status = 200, description = "The CSV", content_type = "text/csv", body = String)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_request", "unknown_export", "invalid_range"])))
)]
async fn export(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    Path(file): Path<String>,
    params: Result<Query<RangeParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let Some(export) = Export::from_file_name(&file) else {
        return Err(api(AdminError::refused(
            404,
            "unknown_export",
            format!(
                "no export `{file}`: customers.csv, subscriptions.csv, orders.csv, usage.csv or audit.csv"
            ),
        )));
    };
    let range = Range::parse(params.from.as_deref(), params.to.as_deref()).map_err(api)?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let pool = state.pool.clone();
    tokio::spawn(async move {
        let chunks = sender.clone();
        let written = exports::write(&pool, export, range, |bytes, _| {
            let chunks = chunks.clone();
            async move { chunks.send(Ok(Bytes::from(bytes))).await.is_ok() }
        })
        .await;
        if let Err(error) = written {
            tracing::error!(error = %crate::error::error_chain(&error), export = export.name(), "an export failed midway");
            // Ends the body with an error, so the client sees a broken transfer, not a short file.
            let _ = sender
                .send(Err(std::io::Error::other("the export failed")))
                .await;
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let disposition = format!("attachment; filename=\"{}.csv\"", export.name());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
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
    let request: KeyBody = body(&bytes)?;
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

/// A list answer.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct Items {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
}

/// A replay's answer.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct Replayed {
    webhook_id: String,
    /// The delivery's status after the replay.
    status: String,
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

/// A stored webhook delivery.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct WebhookDelivery {
    webhook_id: String,
    /// The event's type, such as `subscription.updated`.
    #[schema(rename = "type")]
    kind: String,
    /// `pending`, `applied`, `failed` or `ignored`.
    status: String,
    attempts: i32,
    last_error: Option<String>,
    received_at: String,
    next_attempt_at: Option<String>,
}

/// Stored webhook deliveries, newest first.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct WebhookList {
    items: Vec<WebhookDelivery>,
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
