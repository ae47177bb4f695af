//! `/v1` billing operations over HTTP: each call's body, its role, its idempotency key and its
//! audit row. What each operation does is in [`crate::billing`].
//!
//! Every mutating call goes through [`call::mutate`]: the `Idempotency-Key` is claimed first
//! ([`crate::idempotency`]), then the operation runs, then — in one transaction — its answer is
//! stored under the key and its audit row written. A refused call releases its key and writes
//! only its audit row.

mod answers;
mod call;

pub(crate) use call::refusal;

use self::answers::{
    CancelAnswer, CheckoutAnswer, CustomerAnswer, OrderPageDoc, PlanAnswer, PortalAnswer,
    RefundAnswer, UncancelAnswer,
};
use self::call::{BODY_LIMIT, Mutation, mutate, parse};
use super::auth::{forbidden, min};
use super::request::query;
use super::{ApiError, AppState};
use crate::auth::Role;
use crate::billing::{Action, OrderPage, OrdersQuery, Proration};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
        Action::CustomerCreate,
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
        Action::Checkout,
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
        Action::PortalSession,
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
        Action::PlanChange,
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
    let audit = (
        Action::cancel(request.at_period_end),
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
        Action::Uncancel,
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
    let audit = (Action::Refund, format!("order:{}", request.order), None);
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
    let params = match query(params) {
        Ok(params) => params,
        Err(error) => return error.into_response(),
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
