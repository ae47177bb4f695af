//! Refunding an order (`POST /v1/refunds`), at most what is left of it, sent to Polar once.

use super::{Action, Billing, BillingError, Done, field, set};
use crate::db;

use serde_json::{Value, json};

/// Polar's refund reasons.
const REFUND_REASONS: &[&str] = &[
    "duplicate",
    "fraudulent",
    "customer_request",
    "service_disruption",
    "satisfaction_guarantee",
    "dispute_prevention",
    "other",
];

impl Billing {
    /// `POST /v1/refunds`: refunds `amount` (default: what is left) of `order`.
    pub(crate) async fn refund(
        &self,
        order: &str,
        amount: Option<i64>,
        reason: &str,
        comment: Option<&str>,
    ) -> Result<Done, BillingError> {
        if !REFUND_REASONS.contains(&reason) {
            return Err(BillingError::InvalidRequest(format!(
                "`reason` must be one of {}; `{reason}` is not",
                REFUND_REASONS.join(", ")
            )));
        }
        let mut conn = self.pool.acquire().await?;
        let stored = db::orders::by_id(&mut conn, order)
            .await?
            .ok_or_else(|| BillingError::UnknownOrder(order.to_owned()))?;
        drop(conn);
        // Polar refunds up to the order's net amount (taxes follow in proportion).
        let refundable = stored
            .raw
            .get("net_amount")
            .and_then(Value::as_i64)
            .unwrap_or(stored.total_amount);
        let remaining = (refundable - stored.refunded_amount).max(0);
        let amount = amount.unwrap_or(remaining);
        if amount <= 0 && remaining > 0 {
            return Err(BillingError::InvalidRequest(
                "`amount` must be a positive number of minor units".to_owned(),
            ));
        }
        if amount > remaining || remaining == 0 {
            return Err(BillingError::RefundExceedsOrder {
                order: order.to_owned(),
                amount,
                remaining,
                refunded: stored.refunded_amount,
                currency: stored.currency.clone(),
            });
        }
        let mut body = json!({ "order_id": order, "reason": reason, "amount": amount });
        if let Some(comment) = comment {
            set(&mut body, "comment", json!(comment));
        }
        let polar = self.polar_once()?;
        let refund = polar
            .post::<_, Value>("/v1/refunds/", &body)
            .await
            .map_err(|error| BillingError::from_polar(error, &polar))?;
        let answer = json!({
            "id": field(&refund, "id"),
            "order": order,
            "amount": field(&refund, "amount"),
            "status": field(&refund, "status"),
        });
        Ok(Done {
            status: 201,
            action: Action::Refund,
            subject: format!("order:{order}"),
            customer: stored.customer.clone(),
            before: Some(json!({
                "order": order,
                "total_amount": stored.total_amount,
                "refunded_amount": stored.refunded_amount,
                "currency": stored.currency,
            })),
            after: Some(json!({
                "refund": field(&refund, "id"),
                "amount": amount,
                "refunded_amount": stored.refunded_amount + amount,
                "comment": comment,
            })),
            body: answer,
            reason: Some(match comment {
                Some(comment) => format!("{reason}: {comment}"),
                None => reason.to_owned(),
            }),
        })
    }
}
