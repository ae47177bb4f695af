//! The answers of the billing calls, as the OpenAPI document describes them (the handlers
//! answer the operations' JSON as it is).

use serde_json::Value;
use utoipa::ToSchema;

/// `POST /v1/customers`' answer.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
pub(super) struct CustomerAnswer {
    customer: String,
    polar_id: Option<String>,
    email: Option<String>,
}

/// `POST /v1/checkouts`' answer: send the customer to `url`.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
pub(super) struct CheckoutAnswer {
    id: Option<String>,
    url: Option<String>,
    expires_at: Option<String>,
}

/// `POST /v1/portal-sessions`' answer.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
pub(super) struct PortalAnswer {
    url: Option<String>,
    expires_at: Option<String>,
}

/// A plan change's answer: Polar's subscription, and the plans from and to.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
pub(super) struct PlanAnswer {
    #[schema(value_type = Object)]
    subscription: Value,
    from: Option<String>,
    to: String,
}

/// A cancellation's answer: Polar's subscription, and when it ends.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
pub(super) struct CancelAnswer {
    #[schema(value_type = Object)]
    subscription: Value,
    ends_at: Option<String>,
}

/// An uncancel's answer: Polar's subscription.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
pub(super) struct UncancelAnswer {
    #[schema(value_type = Object)]
    subscription: Value,
}

/// A refund's answer.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
pub(super) struct RefundAnswer {
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
pub(super) struct OrderPageDoc {
    /// `{id, created_at, status, billing_reason, product: {id, name}, subscription_id, amount,
    /// tax_amount, currency, refunded_amount}`, newest first.
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next: Option<String>,
}
