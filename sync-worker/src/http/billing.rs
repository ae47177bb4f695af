//! `/v1` billing operations over HTTP: each call's body, its role, its idempotency key and its
//! audit row. What each operation does is in [`crate::billing`].
//!
//! Every mutating call goes through [`mutate`]: the `Idempotency-Key` is claimed first
//! ([`crate::idempotency`]), then the operation runs, then — in one transaction — its answer is
//! stored under the key and its audit row written. A refused call releases its key and writes
//! only its audit row.

use super::auth::{Authorized, MinRole, forbidden, min};
use super::{ApiError, AppState};
use crate::auth::{Caller, Role};
use crate::billing::{BillingError, Done, OrderPage, OrdersQuery, Proration};
use crate::db;
use crate::idempotency::{self, Claim};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, OriginalUri, Path, Query, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::future::Future;
use std::marker::PhantomData;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The header of a request's id, taken from the caller or made here, and echoed.
pub(crate) const REQUEST_ID: &str = "x-request-id";
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The largest body a `/v1` call takes.
const BODY_LIMIT: usize = 64 * 1024;

pub(crate) fn router(state: AppState) -> OpenApiRouter<AppState> {
    let app = OpenApiRouter::new()
        .routes(routes!(create_customer))
        .routes(routes!(checkout))
        .routes(routes!(portal))
        .routes(routes!(change_plan))
        .routes(routes!(cancel))
        .routes(routes!(uncancel))
        .routes(routes!(orders))
        .route_layer(super::auth::require::<min::App>(state.clone()));
    let admin = OpenApiRouter::new()
        .routes(routes!(refund))
        .route_layer(super::auth::require::<min::Admin>(state));
    app.merge(admin).layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// What the handlers learn from a request besides its body.
struct Call {
    caller: Caller,
    request_id: String,
    key: Option<String>,
    digest: String,
}

impl Call {
    fn new(caller: Caller, parts: &Parts, body: &[u8]) -> Result<Self, ApiError> {
        let key = match parts.headers.get(IDEMPOTENCY_KEY) {
            None => None,
            Some(value) => {
                let key = value.to_str().ok().map(str::trim).unwrap_or_default();
                if key.is_empty() || key.len() > idempotency::MAX_KEY_LEN {
                    return Err(ApiError::InvalidHeader(
                        "Idempotency-Key",
                        "it must be 1 to 255 visible ASCII characters",
                    ));
                }
                Some(key.to_owned())
            }
        };
        // The path as the client sent it (nested routers see theirs without the prefix).
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path(), |uri| uri.0.path());
        Ok(Call {
            caller,
            request_id: request_id(&parts.headers),
            key,
            digest: idempotency::request_digest(parts.method.as_str(), path, &canonical(body)),
        })
    }
}

/// The request's id: the caller's `X-Request-Id` when it is usable, else a new one.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
}

/// A mutating call: who makes it (a caller whose role includes `R`'s), the [`Call`] its
/// idempotency key and audit row need, and its body.
struct Mutation<R>(Call, Bytes, PhantomData<R>);

impl<R: MinRole> FromRequest<AppState> for Mutation<R> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let Authorized(caller, _) = Authorized::<R>::from_request_parts(&mut parts, state).await?;
        let body = axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .map_err(|_| ApiError::PayloadTooLarge(BODY_LIMIT).into_response())?;
        let call = Call::new(caller, &parts, &body).map_err(IntoResponse::into_response)?;
        Ok(Mutation(call, body, PhantomData))
    }
}

/// The body as compared between a request and its retry: JSON with its keys sorted and no
/// spaces (so a client that serialises the same request differently is not refused), else the
/// bytes themselves.
fn canonical(body: &[u8]) -> Vec<u8> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Vec::new();
    }
    serde_json::from_slice::<Value>(body)
        .and_then(|value| serde_json::to_vec(&value))
        .unwrap_or_else(|_| body.to_vec())
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::InvalidRequest(format!("the body does not parse: {error}")))?;
    json_body(value)
}

/// A JSON body as `T`, refused when one of its strings holds U+0000 (see [`crate::text`]).
pub(super) fn json_body<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !crate::text::storable_json(&value) {
        return Err(ApiError::InvalidRequest(
            "the body holds U+0000 in a string, which no value may contain".to_owned(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|error| ApiError::InvalidRequest(format!("the body does not parse: {error}")))
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The answer to a refused operation: `{code, message}`, with `Retry-After` on a 503.
pub(super) fn refusal(error: BillingError) -> Response {
    let retry_after = error.retry_after();
    let api = match error {
        BillingError::Database(error) => ApiError::from(error),
        BillingError::Internal(message) => ApiError::Internal(message.into()),
        other => ApiError::Refused {
            status: StatusCode::from_u16(other.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: other.code(),
            message: other.to_string(),
        },
    };
    let mut response = api.into_response();
    if let Some(wait) = retry_after {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(seconds.max(1)));
    }
    response
}

fn answer(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        Json(body),
    )
        .into_response()
}

/// Runs a mutating operation under its idempotency key and audits it.
async fn mutate<Op, Fut>(
    state: &AppState,
    call: &Call,
    audit: (&'static str, String, Option<String>),
    key_required: bool,
    operation: Op,
) -> Response
where
    Op: FnOnce() -> Fut,
    Fut: Future<Output = Result<Done, BillingError>>,
{
    let response = match run(state, call, &audit, key_required, operation).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    with_request_id(response, &call.request_id)
}

async fn run<Op, Fut>(
    state: &AppState,
    call: &Call,
    (action, subject, customer): &(&'static str, String, Option<String>),
    key_required: bool,
    operation: Op,
) -> Result<Response, ApiError>
where
    Op: FnOnce() -> Fut,
    Fut: Future<Output = Result<Done, BillingError>>,
{
    let actor = call.caller.actor.as_str();
    let now = state.clock.now();
    if key_required && call.key.is_none() {
        let code = "idempotency_key_required";
        let message =
            "this call needs an `Idempotency-Key` header, so that a retry cannot refund twice"
                .to_owned();
        let details = json!({ "refused": code, "message": message });
        let mut conn = state.pool.acquire().await?;
        audit_row(
            &mut conn,
            call,
            action,
            subject,
            customer.as_deref(),
            details,
            now,
        )
        .await?;
        return Err(ApiError::Refused {
            status: StatusCode::BAD_REQUEST,
            code,
            message,
        });
    }
    if let Some(key) = &call.key {
        match idempotency::claim(&state.pool, actor, key, &call.digest, now).await? {
            Claim::Claimed => {}
            Claim::Replay { status, body } => {
                let mut response = answer(status, body);
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return Ok(response);
            }
            Claim::Reused => {
                return Err(ApiError::Refused {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: "idempotency_key_reused",
                    message: format!(
                        "Idempotency-Key `{key}` was used within 24 hours for another request; use a new key for a new request"
                    ),
                });
            }
            Claim::InProgress => {
                return Err(ApiError::Refused {
                    status: StatusCode::CONFLICT,
                    code: "idempotency_key_in_use",
                    message: format!(
                        "a request with Idempotency-Key `{key}` is still in progress; retry once it has answered"
                    ),
                });
            }
        }
    }
    match operation().await {
        Ok(done) => {
            let mut tx = state.pool.begin().await?;
            if let Some(key) = &call.key {
                idempotency::complete(&mut tx, actor, key, done.status, &done.body).await?;
            }
            db::audit::record_entry(
                &mut tx,
                &db::audit::Entry {
                    actor,
                    role: Some(call.caller.role.as_str()),
                    action: done.action,
                    subject: &done.subject,
                    customer: done.customer.as_deref(),
                    before: done.before.as_ref(),
                    after: done.after.as_ref(),
                    reason: done.reason.as_deref(),
                    request_id: Some(&call.request_id),
                    details: json!({ "status": done.status, "idempotency_key": call.key }),
                },
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(answer(done.status, done.body))
        }
        Err(error) => {
            let mut tx = state.pool.begin().await?;
            if let Some(key) = &call.key {
                idempotency::release(&mut tx, actor, key).await?;
            }
            let details = json!({ "refused": error.code(), "message": error.to_string() });
            audit_row(
                &mut tx,
                call,
                action,
                subject,
                customer.as_deref(),
                details,
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(refusal(error))
        }
    }
}

/// The audit row of a refused call.
async fn audit_row(
    conn: &mut sqlx::PgConnection,
    call: &Call,
    action: &str,
    subject: &str,
    customer: Option<&str>,
    details: Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    db::audit::record_entry(
        conn,
        &db::audit::Entry {
            actor: &call.caller.actor,
            role: Some(call.caller.role.as_str()),
            action,
            subject,
            customer,
            request_id: Some(&call.request_id),
            details,
            ..Default::default()
        },
        now,
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CustomerBody {
    customer: String,
    email: String,
    name: Option<String>,
}

/// The Polar customer whose `external_id` is `customer`: made (201) or found (200).
#[utoipa::path(
    post,
    path = "/v1/customers",
    tag = "billing",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 characters: a retry with the same key and body within 24 h answers the first answer"),
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
    ),
    request_body = CustomerBody,
    responses(
        (status = 201, description = "Made", body = CustomerAnswer),
        (status = 200, description = "It exists", body = CustomerAnswer),
    ),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["invalid_header", "payload_too_large", "invalid_request", "idempotency_key_reused", "idempotency_key_in_use", "polar_rejected", "polar_unavailable"])))
)]
async fn create_customer(
    State(state): State<AppState>,
    Mutation(call, body, _): Mutation<min::App>,
) -> Result<Response, ApiError> {
    let request: CustomerBody = parse(&body)?;
    let audit = (
        "billing.customer_create",
        format!("customer:{}", request.customer),
        Some(request.customer.clone()),
    );
    Ok(mutate(&state, &call, audit, false, || {
        state
            .billing
            .create_customer(&request.customer, &request.email, request.name.as_deref())
    })
    .await)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CheckoutBody {
    customer: String,
    plan: String,
    success_url: String,
    return_url: Option<String>,
}

/// A Polar checkout of the plan's product for the customer.
#[utoipa::path(
    post,
    path = "/v1/checkouts",
    tag = "billing",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 characters: a retry with the same key and body within 24 h answers the first answer"),
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
    ),
    request_body = CheckoutBody,
    responses((status = 201, description = "The checkout", body = CheckoutAnswer)),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["invalid_header", "payload_too_large", "invalid_request", "idempotency_key_reused", "idempotency_key_in_use", "polar_rejected", "polar_unavailable", "unknown_plan", "plan_not_for_sale", "already_subscribed", "unknown_customer"])))
)]
async fn checkout(
    State(state): State<AppState>,
    Mutation(call, body, _): Mutation<min::App>,
) -> Result<Response, ApiError> {
    let request: CheckoutBody = parse(&body)?;
    let audit = (
        "billing.checkout",
        format!("customer:{}", request.customer),
        Some(request.customer.clone()),
    );
    Ok(mutate(&state, &call, audit, false, || {
        state.billing.checkout(
            &request.customer,
            &request.plan,
            &request.success_url,
            request.return_url.as_deref(),
        )
    })
    .await)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PortalBody {
    customer: String,
    return_url: Option<String>,
}

/// A session of Polar's customer portal.
#[utoipa::path(
    post,
    path = "/v1/portal-sessions",
    tag = "billing",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 characters: a retry with the same key and body within 24 h answers the first answer"),
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
    ),
    request_body = PortalBody,
    responses((status = 201, description = "The portal's URL", body = PortalAnswer)),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["invalid_header", "payload_too_large", "invalid_request", "idempotency_key_reused", "idempotency_key_in_use", "polar_rejected", "polar_unavailable", "unknown_customer"])))
)]
async fn portal(
    State(state): State<AppState>,
    Mutation(call, body, _): Mutation<min::App>,
) -> Result<Response, ApiError> {
    let request: PortalBody = parse(&body)?;
    let audit = (
        "billing.portal_session",
        format!("customer:{}", request.customer),
        Some(request.customer.clone()),
    );
    Ok(mutate(&state, &call, audit, false, || {
        state
            .billing
            .portal(&request.customer, request.return_url.as_deref())
    })
    .await)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    plan: String,
    /// `prorate` (default) or `invoice`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(prorate|invoice)$")]
    proration: Proration,
}

/// Moves the customer's subscription to another plan; to the default plan it cancels at the
/// period end.
#[utoipa::path(
    post,
    path = "/v1/customers/{customer}/plan",
    tag = "billing",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 characters: a retry with the same key and body within 24 h answers the first answer"),
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
        ("customer" = String, Path, description = "The app's user id (Polar `external_id`)"),
    ),
    request_body = PlanBody,
    responses((status = 200, description = "Changed", body = PlanAnswer)),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["invalid_header", "payload_too_large", "invalid_request", "idempotency_key_reused", "idempotency_key_in_use", "polar_rejected", "polar_unavailable", "unknown_customer", "unknown_plan", "plan_not_for_sale", "already_on_plan", "no_subscription"])))
)]
async fn change_plan(
    State(state): State<AppState>,
    Path(customer): Path<String>,
    Mutation(call, body, _): Mutation<min::App>,
) -> Result<Response, ApiError> {
    let request: PlanBody = parse(&body)?;
    let audit = (
        "billing.plan_change",
        format!("customer:{customer}"),
        Some(customer.clone()),
    );
    Ok(mutate(&state, &call, audit, false, || {
        state
            .billing
            .change_plan(&customer, &request.plan, request.proration)
    })
    .await)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    #[serde(default = "yes")]
    at_period_end: bool,
}

fn yes() -> bool {
    true
}

/// Cancels the customer's subscription: at the period end (`at_period_end: true`, the
/// default), or now (`false`, role `support`).
#[utoipa::path(
    post,
    path = "/v1/customers/{customer}/cancel",
    tag = "billing",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 characters: a retry with the same key and body within 24 h answers the first answer"),
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
        ("customer" = String, Path, description = "The app's user id (Polar `external_id`)"),
    ),
    request_body = CancelBody,
    responses((status = 200, description = "Cancelled", body = CancelAnswer)),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["invalid_header", "payload_too_large", "invalid_request", "idempotency_key_reused", "idempotency_key_in_use", "polar_rejected", "polar_unavailable", "unknown_customer", "no_subscription", "forbidden"])))
)]
async fn cancel(
    State(state): State<AppState>,
    Path(customer): Path<String>,
    Mutation(call, body, _): Mutation<min::App>,
) -> Result<Response, ApiError> {
    let request: CancelBody = parse(&body)?;
    if !request.at_period_end && !call.caller.has(Role::Support) {
        return Err(forbidden(&call.caller, Role::Support));
    }
    let action = if request.at_period_end {
        "billing.cancel"
    } else {
        "billing.revoke"
    };
    let audit = (
        action,
        format!("customer:{customer}"),
        Some(customer.clone()),
    );
    Ok(mutate(&state, &call, audit, false, || {
        state.billing.cancel(&customer, request.at_period_end)
    })
    .await)
}

/// Takes back a cancellation at the period end.
#[utoipa::path(
    post,
    path = "/v1/customers/{customer}/uncancel",
    tag = "billing",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 characters: a retry with the same key and body within 24 h answers the first answer"),
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
        ("customer" = String, Path, description = "The app's user id (Polar `external_id`)"),
    ),
    responses((status = 200, description = "Renewing again", body = UncancelAnswer)),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["invalid_header", "payload_too_large", "invalid_request", "idempotency_key_reused", "idempotency_key_in_use", "polar_rejected", "polar_unavailable", "unknown_customer", "no_subscription"])))
)]
async fn uncancel(
    State(state): State<AppState>,
    Path(customer): Path<String>,
    Mutation(call, _, _): Mutation<min::App>,
) -> Result<Response, ApiError> {
    let audit = (
        "billing.uncancel",
        format!("customer:{customer}"),
        Some(customer.clone()),
    );
    Ok(mutate(&state, &call, audit, false, || {
        state.billing.uncancel(&customer)
    })
    .await)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    order: String,
    amount: Option<i64>,
    reason: String,
    comment: Option<String>,
}

/// Refunds an order, in whole or in part; `Idempotency-Key` is required.
#[utoipa::path(
    post,
    path = "/v1/refunds",
    tag = "billing",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 characters: a retry with the same key and body within 24 h answers the first answer"),
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
    ),
    request_body = RefundBody,
    responses((status = 201, description = "The refund", body = RefundAnswer)),
    extensions(("x-role" = json!("admin")), ("x-codes" = json!(["invalid_header", "payload_too_large", "invalid_request", "idempotency_key_reused", "idempotency_key_in_use", "polar_rejected", "polar_unavailable", "idempotency_key_required", "unknown_order", "refund_exceeds_order"])))
)]
async fn refund(
    State(state): State<AppState>,
    Mutation(call, body, _): Mutation<min::Admin>,
) -> Result<Response, ApiError> {
    let request: RefundBody = parse(&body)?;
    let audit = ("billing.refund", format!("order:{}", request.order), None);
    Ok(mutate(&state, &call, audit, true, || {
        state.billing.refund(
            &request.order,
            request.amount,
            &request.reason,
            request.comment.as_deref(),
        )
    })
    .await)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct OrdersParams {
    cursor: Option<String>,
    limit: Option<i64>,
}

/// The customer's invoice history from PostgreSQL, newest first.
#[utoipa::path(
    get,
    path = "/v1/customers/{customer}/orders",
    tag = "billing",
    params(
        ("customer" = String, Path, description = "The app's user id (Polar `external_id`)"),
        OrdersParams,
    ),
    responses((status = 200, description = "A page of orders", body = OrderPageDoc)),
    extensions(("x-role" = json!("app")), ("x-codes" = json!(["invalid_request", "unknown_customer"])))
)]
async fn orders(
    State(state): State<AppState>,
    Path(customer): Path<String>,
    params: Result<Query<OrdersParams>, QueryRejection>,
) -> Response {
    let Query(params) = match params {
        Ok(params) => params,
        Err(rejection) => return ApiError::InvalidRequest(rejection.body_text()).into_response(),
    };
    let query = OrdersQuery {
        cursor: params.cursor,
        limit: params.limit,
    };
    match state.billing.orders(&customer, &query).await {
        Ok(page) => Json::<OrderPage>(page).into_response(),
        Err(error) => refusal(error),
    }
}

/// `POST /v1/customers`' answer.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct CustomerAnswer {
    customer: String,
    polar_id: Option<String>,
    email: Option<String>,
}

/// `POST /v1/checkouts`' answer: send the customer to `url`.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct CheckoutAnswer {
    id: Option<String>,
    url: Option<String>,
    expires_at: Option<String>,
}

/// `POST /v1/portal-sessions`' answer.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct PortalAnswer {
    url: Option<String>,
    expires_at: Option<String>,
}

/// A plan change's answer: Polar's subscription, and the plans from and to.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct PlanAnswer {
    #[schema(value_type = Object)]
    subscription: Value,
    from: Option<String>,
    to: String,
}

/// A cancellation's answer: Polar's subscription, and when it ends.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct CancelAnswer {
    #[schema(value_type = Object)]
    subscription: Value,
    ends_at: Option<String>,
}

/// An uncancel's answer: Polar's subscription.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct UncancelAnswer {
    #[schema(value_type = Object)]
    subscription: Value,
}

/// A refund's answer.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct RefundAnswer {
    id: Option<String>,
    order: String,
    /// Minor units.
    amount: Option<i64>,
    status: Option<String>,
}

/// A page of orders.
#[derive(Debug, ToSchema)]
#[schema(as = OrderPage)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct OrderPageDoc {
    /// `{id, created_at, status, billing_reason, product: {id, name}, subscription_id, amount,
    /// tax_amount, currency, refunded_amount}`, newest first.
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn a_retry_serialised_differently_is_the_same_request() {
        assert_eq!(
            canonical(br#"{"order": "o", "amount": 5, "reason": "other"}"#),
            canonical(br#"{"reason":"other","amount":5,"order":"o"}"#)
        );
        assert_ne!(
            canonical(br#"{"amount": 5}"#),
            canonical(br#"{"amount": 6}"#)
        );
        assert_eq!(canonical(b"  "), canonical(b""));
    }
}
