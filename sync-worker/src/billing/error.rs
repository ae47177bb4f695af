//! Why a billing operation was refused, and what the caller should do.

use crate::polar_client::{PolarClient, PolarError};
use std::time::Duration;

/// How long a caller is asked to wait when Polar failed without saying how long.
const DEFAULT_RETRY: Duration = Duration::from_secs(5);

/// Polar's `detail`: a sentence, or a validation error's list of `{loc, msg}` made one.
fn readable(detail: &str) -> String {
    let Ok(serde_json::Value::Array(errors)) = serde_json::from_str(detail) else {
        return detail.to_owned();
    };
    let parts: Vec<String> = errors
        .iter()
        .map(|error| {
            let place = error
                .get("loc")
                .and_then(serde_json::Value::as_array)
                .map(|loc| {
                    loc.iter()
                        .map(|part| {
                            part.as_str()
                                .map_or_else(|| part.to_string(), str::to_owned)
                        })
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .unwrap_or_default();
            let message = error
                .get("msg")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("invalid");
            if place.is_empty() {
                message.to_owned()
            } else {
                format!("{place}: {message}")
            }
        })
        .collect();
    if parts.is_empty() {
        detail.to_owned()
    } else {
        parts.join("; ")
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum BillingError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no plan `{0}` in the catalog")]
    UnknownPlan(String),
    #[error("{0}")]
    PlanNotForSale(String),
    #[error(
        "customer `{customer}` already holds plan `{plan}` (subscription {subscription}); change plans with POST /v1/customers/{customer}/plan"
    )]
    AlreadySubscribed {
        customer: String,
        plan: String,
        subscription: String,
    },
    #[error("customer `{customer}` is already on plan `{plan}`")]
    AlreadyOnPlan { customer: String, plan: String },
    #[error("customer `{0}` is not known to tollgate or Polar")]
    UnknownCustomer(String),
    #[error("customer `{0}` has no subscription to change: start one with POST /v1/checkouts")]
    NoSubscription(String),
    #[error("no order `{0}`")]
    UnknownOrder(String),
    #[error(
        "a refund of {amount} exceeds what is left of order {order}: {remaining} {currency} (already refunded: {refunded})"
    )]
    RefundExceedsOrder {
        order: String,
        amount: i64,
        remaining: i64,
        refunded: i64,
        currency: String,
    },
    #[error("Polar refused the call: {0}")]
    PolarRejected(String),
    #[error("{message}")]
    PolarUnavailable {
        message: String,
        retry_after: Duration,
    },
    #[error("POLAR_ORGANIZATION_TOKEN is not configured: billing calls need Polar's API")]
    PolarNotConfigured,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl BillingError {
    /// The HTTP status of the refusal.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Self::InvalidRequest(_) => 400,
            Self::UnknownCustomer(_) | Self::UnknownOrder(_) => 404,
            Self::AlreadySubscribed { .. }
            | Self::AlreadyOnPlan { .. }
            | Self::NoSubscription(_) => 409,
            Self::UnknownPlan(_)
            | Self::PlanNotForSale(_)
            | Self::RefundExceedsOrder { .. }
            | Self::PolarRejected(_) => 422,
            Self::PolarUnavailable { .. } | Self::PolarNotConfigured => 503,
            Self::Database(_) | Self::Internal(_) => 500,
        }
    }

    /// The stable code clients branch on.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::UnknownPlan(_) => "unknown_plan",
            Self::PlanNotForSale(_) => "plan_not_for_sale",
            Self::AlreadySubscribed { .. } => "already_subscribed",
            Self::AlreadyOnPlan { .. } => "already_on_plan",
            Self::UnknownCustomer(_) => "unknown_customer",
            Self::NoSubscription(_) => "no_subscription",
            Self::UnknownOrder(_) => "unknown_order",
            Self::RefundExceedsOrder { .. } => "refund_exceeds_order",
            Self::PolarRejected(_) => "polar_rejected",
            Self::PolarUnavailable { .. } | Self::PolarNotConfigured => "polar_unavailable",
            Self::Database(_) | Self::Internal(_) => "internal",
        }
    }

    /// For 503: how long the caller should wait before trying again.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::PolarUnavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The refusal Polar's failure `error` means for our caller.
    pub(crate) fn from_polar(error: PolarError, polar: &PolarClient) -> Self {
        match error {
            PolarError::Status { status, detail, .. } if status < 500 => {
                Self::PolarRejected(readable(&detail))
            }
            PolarError::Status { status, .. } => Self::PolarUnavailable {
                message: format!("Polar failed (HTTP {status}); try again later"),
                retry_after: DEFAULT_RETRY.max(polar.breaker_retry_in()),
            },
            PolarError::Transport { .. } => Self::PolarUnavailable {
                message: "Polar could not be reached; try again later".to_owned(),
                retry_after: DEFAULT_RETRY.max(polar.breaker_retry_in()),
            },
            PolarError::CircuitOpen { .. } => Self::PolarUnavailable {
                message: "calls to Polar are suspended after repeated failures; try again later"
                    .to_owned(),
                retry_after: polar.breaker_retry_in().max(Duration::from_secs(1)),
            },
            PolarError::RateLimited { retry_after, .. } => Self::PolarUnavailable {
                message: "Polar's rate limit is reached; try again later".to_owned(),
                retry_after: retry_after.unwrap_or(Duration::from_secs(60)),
            },
            PolarError::Decode { path, source } => Self::Internal(format!(
                "Polar's answer to {path} is not the expected JSON: {source}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn polar_validation_errors_read_as_sentences() {
        let detail = r#"[{"loc":["body","email"],"msg":"A customer with this email address already exists.","type":"value_error"}]"#;
        assert_eq!(
            super::readable(detail),
            "body.email: A customer with this email address already exists."
        );
        assert_eq!(super::readable("Not found"), "Not found");
    }
}
