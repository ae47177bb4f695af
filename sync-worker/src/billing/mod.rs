//! Selling through Polar: customers, checkouts, the customer portal, plan changes,
//! cancellation, refunds and invoice history.
//!
//! Every operation goes through Polar's API ([`PolarClient::interactive`]: a few quick retries
//! behind the shared circuit breaker, no waiting out rate limits) and answers what Polar
//! answered. None of them changes tollgate's own copy of Polar's objects: subscriptions, orders
//! and snapshots move when Polar's webhooks (or the next reconcile) say so, as for any other
//! change made in Polar. What an operation reads — the plan's product, the customer's entitling
//! subscription, an order's refundable amount — comes from PostgreSQL, with the engine deciding
//! which subscription entitles the customer now.
//!
//! The HTTP API and the command line both call these functions; the caller
//! writes the audit row with the [`Done`] an operation returns.

mod checkout;
mod clerk;
mod customers;
mod error;
mod orders;
mod plans;
mod refunds;
mod subscriptions;

pub(crate) use clerk::ClerkEvent;
pub(crate) use error::BillingError;
pub(crate) use orders::{OrderPage, OrdersQuery};
pub(crate) use subscriptions::Proration;

use crate::clock::Clock;
use crate::db;
use crate::polar_client::PolarClient;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use sqlx::PgPool;
use std::sync::Arc;
use tollgate_gate::{Catalog, Plan};

/// What a billing call or a Clerk event is audited as: the same action whether it is done or
/// refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    CustomerCreate,
    Checkout,
    PortalSession,
    PlanChange,
    /// A cancellation at the period end.
    Cancel,
    /// A cancellation now.
    Revoke,
    Uncancel,
    Refund,
    /// Clerk's user events, made into Polar customers.
    ClerkCustomerCreate,
    ClerkCustomerUpdate,
    ClerkCustomerDelete,
    ClerkRefused,
}

impl Action {
    /// A cancellation at the period end, or one now.
    pub(crate) fn cancel(at_period_end: bool) -> Self {
        if at_period_end {
            Self::Cancel
        } else {
            Self::Revoke
        }
    }

    /// The audit row's `action`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CustomerCreate => "billing.customer_create",
            Self::Checkout => "billing.checkout",
            Self::PortalSession => "billing.portal_session",
            Self::PlanChange => "billing.plan_change",
            Self::Cancel => "billing.cancel",
            Self::Revoke => "billing.revoke",
            Self::Uncancel => "billing.uncancel",
            Self::Refund => "billing.refund",
            Self::ClerkCustomerCreate => "clerk.customer_create",
            Self::ClerkCustomerUpdate => "clerk.customer_update",
            Self::ClerkCustomerDelete => "clerk.customer_delete",
            Self::ClerkRefused => "clerk.refused",
        }
    }
}

/// What an operation did: the answer and the facts its audit row records.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    /// 200 or 201.
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) action: Action,
    /// What was acted on, e.g. `customer:user_1` or `order:<id>`.
    pub(crate) subject: String,
    pub(crate) customer: Option<String>,
    pub(crate) before: Option<Value>,
    pub(crate) after: Option<Value>,
    /// The reason given (refunds).
    pub(crate) reason: Option<String>,
}

impl Done {
    /// The audit row of what was done, by `actor` in `role`, for the request `request_id`.
    pub(crate) fn audit_entry<'a>(
        &'a self,
        actor: &'a str,
        role: &'a str,
        request_id: &'a str,
        details: Value,
    ) -> db::audit::Entry<'a> {
        db::audit::Entry {
            actor,
            role: Some(role),
            action: self.action.as_str(),
            subject: &self.subject,
            customer: self.customer.as_deref(),
            before: self.before.as_ref(),
            after: self.after.as_ref(),
            reason: self.reason.as_deref(),
            request_id: Some(request_id),
            details,
        }
    }
}

/// The billing operations, over one database, catalog and Polar.
#[derive(Clone, Debug)]
pub(crate) struct Billing {
    pub(crate) pool: PgPool,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) polar: Option<PolarClient>,
    pub(crate) clock: Clock,
}

fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
    value.get(name).unwrap_or(&Value::Null)
}

/// Sets `key` of the JSON object `object`.
fn set(object: &mut Value, key: &str, value: Value) {
    if let Some(fields) = object.as_object_mut() {
        fields.insert(key.to_owned(), value);
    }
}

fn id_of(value: &Value) -> String {
    field(value, "id").as_str().unwrap_or_default().to_owned()
}

/// What a path segment keeps as it is: RFC 3986's unreserved characters.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `segment` percent-encoded for a URL path (external ids are the app's, any string).
fn path_segment(segment: &str) -> String {
    utf8_percent_encode(segment, PATH_SEGMENT).to_string()
}

/// A customer id as the API takes it: the app's user id, 1 to 255 bytes.
pub(crate) fn check_customer(customer: &str) -> Result<(), BillingError> {
    if customer.trim().is_empty() || customer.len() > 255 {
        return Err(BillingError::InvalidRequest(
            "`customer` must be the app's user id: a non-empty string of at most 255 bytes"
                .to_owned(),
        ));
    }
    Ok(())
}

fn check_url(name: &str, url: &str) -> Result<(), BillingError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() > "https://".len()
        && url.len() <= 2048;
    if !ok {
        return Err(BillingError::InvalidRequest(format!(
            "`{name}` must be an absolute http(s) URL"
        )));
    }
    Ok(())
}

impl Billing {
    fn polar(&self) -> Result<PolarClient, BillingError> {
        self.polar
            .as_ref()
            .map(|polar| polar.interactive(3))
            .ok_or(BillingError::PolarNotConfigured)
    }

    /// A client that sends a call once: for calls that are not safe to repeat (refunds).
    fn polar_once(&self) -> Result<PolarClient, BillingError> {
        self.polar
            .as_ref()
            .map(|polar| polar.interactive(1))
            .ok_or(BillingError::PolarNotConfigured)
    }

    fn plan(&self, key: &str) -> Result<&Plan, BillingError> {
        self.catalog
            .plan(key)
            .ok_or_else(|| BillingError::UnknownPlan(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_are_encoded_in_paths() {
        assert_eq!(path_segment("user_1"), "user_1");
        assert_eq!(path_segment("a b/c?"), "a%20b%2Fc%3F");
    }
}
