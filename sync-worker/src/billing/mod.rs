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

mod clerk;
mod error;
mod orders;

pub(crate) use clerk::ClerkEvent;
pub(crate) use error::BillingError;
pub(crate) use orders::{OrderPage, OrdersQuery};

use crate::account;
use crate::clock::Clock;
use crate::db;
use crate::polar_client::PolarClient;

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::sync::Arc;
use tollgate_gate::{Catalog, Plan, Timestamp, build_snapshot};

/// Polar's refund reasons.
pub(crate) const REFUND_REASONS: &[&str] = &[
    "duplicate",
    "fraudulent",
    "customer_request",
    "service_disruption",
    "satisfaction_guarantee",
    "dispute_prevention",
    "other",
];

/// How a plan change between paid plans is billed (Polar's `proration_behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Proration {
    /// The difference is added to the next invoice.
    #[default]
    Prorate,
    /// The difference is charged now, as an order of its own.
    Invoice,
}

impl Proration {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Proration::Prorate => "prorate",
            Proration::Invoice => "invoice",
        }
    }
}

/// What an operation did: the answer and the facts its audit row records.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    /// 200 or 201.
    pub(crate) status: u16,
    pub(crate) body: Value,
    /// The audit row's action, e.g. `billing.checkout`.
    pub(crate) action: &'static str,
    /// What was acted on, e.g. `customer:user_1` or `order:<id>`.
    pub(crate) subject: String,
    pub(crate) customer: Option<String>,
    pub(crate) before: Option<Value>,
    pub(crate) after: Option<Value>,
    /// The reason given (refunds).
    pub(crate) reason: Option<String>,
}

/// The customer's entitling subscription, as the engine sees it now.
#[derive(Debug, Clone)]
struct Holding {
    /// The effective plan's key.
    plan: String,
    /// The subscription that entitles it (Polar's object), unless on the default plan.
    subscription: Option<Value>,
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

/// `segment` percent-encoded for a URL path (external ids are the app's, any string).
fn path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
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

/// A subscription's facts worth keeping in an audit row.
fn subscription_facts(subscription: &Value) -> Value {
    json!({
        "id": field(subscription, "id"),
        "status": field(subscription, "status"),
        "product_id": field(subscription, "product_id"),
        "cancel_at_period_end": field(subscription, "cancel_at_period_end"),
        "current_period_end": field(subscription, "current_period_end"),
        "ends_at": field(subscription, "ends_at"),
    })
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

    /// The Polar product that sells `plan`: the first of its `polar_products`, else a product
    /// (not archived) whose metadata has every pair of its `polar_metadata`.
    async fn product_of(
        &self,
        conn: &mut PgConnection,
        plan: &Plan,
    ) -> Result<String, BillingError> {
        if let Some(product) = plan.polar_products.first() {
            return Ok(product.clone());
        }
        let not_for_sale = |why: &str| {
            BillingError::PlanNotForSale(format!("plan `{}` is not for sale: {why}", plan.key))
        };
        if plan.key == self.catalog.default_plan().key {
            return Err(not_for_sale("it is the default plan, held without paying"));
        }
        if plan.polar_metadata.is_empty() {
            return Err(not_for_sale("the catalog names no Polar product for it"));
        }
        let products = db::products::live_raw(conn).await?;
        products
            .into_iter()
            .find(|(_, raw)| {
                plan.polar_metadata.iter().all(|(key, wanted)| {
                    match raw.get("metadata").and_then(|m| m.get(key)) {
                        Some(Value::String(value)) => value == wanted,
                        Some(Value::Bool(value)) => wanted == if *value { "true" } else { "false" },
                        Some(Value::Number(value)) => {
                            wanted.parse::<serde_json::Number>().ok().as_ref() == Some(value)
                        }
                        _ => false,
                    }
                })
            })
            .map(|(id, _)| id)
            .ok_or_else(|| {
                not_for_sale("no Polar product known to tollgate has its metadata (run `tollgate sync products`?)")
            })
    }

    /// The customer's effective plan now and the subscription that gives it.
    async fn holding(
        &self,
        conn: &mut PgConnection,
        customer: &str,
    ) -> Result<Holding, BillingError> {
        let account = account::load_one(conn, customer).await?;
        let raws: HashMap<String, Value> = db::subscriptions::raw_of_customer(conn, customer)
            .await?
            .into_iter()
            .map(|subscription| (id_of(&subscription), subscription))
            .collect();
        let now = Timestamp::from(self.clock.now());
        let built = build_snapshot(&self.catalog, &account, now);
        let plan = built.plan.key.clone();
        let subscription = built
            .subscriptions
            .iter()
            .filter(|s| s.plan.as_deref() == Some(plan.as_str()) && s.ended_at.is_none())
            .filter_map(|s| raws.get(&s.id).map(|raw| (s.current_period_start, raw)))
            .filter(|(_, raw)| {
                matches!(
                    field(raw, "status").as_str(),
                    Some("active" | "trialing" | "past_due")
                )
            })
            .max_by_key(|(start, _)| *start)
            .map(|(_, raw)| raw.clone());
        Ok(Holding { plan, subscription })
    }

    /// The Polar id of `customer` from PostgreSQL, else from Polar.
    async fn known_customer(
        &self,
        conn: &mut PgConnection,
        customer: &str,
    ) -> Result<String, BillingError> {
        if let Some((id, _)) = db::customers::live_by_external_id(conn, customer).await? {
            return Ok(id);
        }
        let polar = self.polar()?;
        match polar
            .get::<Value>(
                &format!("/v1/customers/external/{}", path_segment(customer)),
                &[],
            )
            .await
        {
            Ok(found) => Ok(id_of(&found)),
            Err(error) if error.is_not_found() => {
                Err(BillingError::UnknownCustomer(customer.to_owned()))
            }
            Err(error) => Err(BillingError::from_polar(error, &polar)),
        }
    }

    /// A customer stored in PostgreSQL (the operations on subscriptions read them from there).
    async fn stored_customer(
        &self,
        conn: &mut PgConnection,
        customer: &str,
    ) -> Result<(), BillingError> {
        check_customer(customer)?;
        match db::customers::live_by_external_id(conn, customer).await? {
            Some(_) => Ok(()),
            None => Err(BillingError::UnknownCustomer(customer.to_owned())),
        }
    }

    /// `POST /v1/customers`: the Polar customer with `external_id` = `customer`, made unless it
    /// exists (201 made, 200 found).
    pub(crate) async fn create_customer(
        &self,
        customer: &str,
        email: &str,
        name: Option<&str>,
    ) -> Result<Done, BillingError> {
        check_customer(customer)?;
        let email = email.trim();
        if !email.contains('@') || email.len() > 320 {
            return Err(BillingError::InvalidRequest(format!(
                "`email` must be an e-mail address; `{email}` is not"
            )));
        }
        let polar = self.polar()?;
        let path = format!("/v1/customers/external/{}", path_segment(customer));
        let (status, object) = match polar.get::<Value>(&path, &[]).await {
            Ok(found) => (200, found),
            Err(error) if error.is_not_found() => {
                let mut body = json!({ "external_id": customer, "email": email });
                if let Some(name) = name {
                    set(&mut body, "name", json!(name));
                }
                let made = polar
                    .post::<_, Value>("/v1/customers/", &body)
                    .await
                    .map_err(|error| BillingError::from_polar(error, &polar))?;
                (201, made)
            }
            Err(error) => return Err(BillingError::from_polar(error, &polar)),
        };
        let body = json!({
            "customer": customer,
            "polar_id": field(&object, "id"),
            "email": field(&object, "email"),
        });
        Ok(Done {
            status,
            action: "billing.customer_create",
            subject: format!("customer:{customer}"),
            customer: Some(customer.to_owned()),
            before: None,
            after: (status == 201).then(|| body.clone()),
            body,
            reason: None,
        })
    }

    /// `POST /v1/checkouts`: a Polar checkout of `plan`'s product for `customer`.
    pub(crate) async fn checkout(
        &self,
        customer: &str,
        plan: &str,
        success_url: &str,
        return_url: Option<&str>,
    ) -> Result<Done, BillingError> {
        check_customer(customer)?;
        check_url("success_url", success_url)?;
        if let Some(url) = return_url {
            check_url("return_url", url)?;
        }
        let plan = self.plan(plan)?;
        let mut conn = self.pool.acquire().await?;
        let product = self.product_of(&mut conn, plan).await?;
        let holding = self.holding(&mut conn, customer).await?;
        if let Some(subscription) = &holding.subscription {
            return Err(BillingError::AlreadySubscribed {
                customer: customer.to_owned(),
                plan: holding.plan,
                subscription: id_of(subscription),
            });
        }
        drop(conn);
        let mut body = json!({
            "products": [product],
            "external_customer_id": customer,
            "success_url": success_url,
            "metadata": { "tollgate_plan": plan.key },
        });
        if let Some(url) = return_url {
            set(&mut body, "return_url", json!(url));
        }
        let polar = self.polar()?;
        let checkout = polar
            .post::<_, Value>("/v1/checkouts/", &body)
            .await
            .map_err(|error| BillingError::from_polar(error, &polar))?;
        let answer = json!({
            "id": field(&checkout, "id"),
            "url": field(&checkout, "url"),
            "expires_at": field(&checkout, "expires_at"),
        });
        Ok(Done {
            status: 201,
            action: "billing.checkout",
            subject: format!("customer:{customer}"),
            customer: Some(customer.to_owned()),
            before: Some(json!({ "plan": holding.plan })),
            after: Some(json!({
                "checkout": field(&checkout, "id"),
                "plan": plan.key,
                "product_id": product,
            })),
            body: answer,
            reason: None,
        })
    }

    /// `POST /v1/portal-sessions`: a link to Polar's customer portal for `customer`.
    pub(crate) async fn portal(
        &self,
        customer: &str,
        return_url: Option<&str>,
    ) -> Result<Done, BillingError> {
        check_customer(customer)?;
        if let Some(url) = return_url {
            check_url("return_url", url)?;
        }
        let mut conn = self.pool.acquire().await?;
        self.known_customer(&mut conn, customer).await?;
        drop(conn);
        let mut body = json!({ "external_customer_id": customer });
        if let Some(url) = return_url {
            set(&mut body, "return_url", json!(url));
        }
        let polar = self.polar()?;
        let session = polar
            .post::<_, Value>("/v1/customer-sessions/", &body)
            .await
            .map_err(|error| BillingError::from_polar(error, &polar))?;
        Ok(Done {
            status: 201,
            action: "billing.portal_session",
            subject: format!("customer:{customer}"),
            customer: Some(customer.to_owned()),
            before: None,
            after: Some(json!({ "session": field(&session, "id") })),
            body: json!({
                "url": field(&session, "customer_portal_url"),
                "expires_at": field(&session, "expires_at"),
            }),
            reason: None,
        })
    }

    /// The customer's entitling subscription, or 409 `no_subscription`.
    async fn subscription_of(&self, customer: &str) -> Result<(String, Value), BillingError> {
        let mut conn = self.pool.acquire().await?;
        self.stored_customer(&mut conn, customer).await?;
        let holding = self.holding(&mut conn, customer).await?;
        match holding.subscription {
            Some(subscription) => Ok((holding.plan, subscription)),
            None => Err(BillingError::NoSubscription(customer.to_owned())),
        }
    }

    async fn patch_subscription(
        &self,
        subscription: &Value,
        body: Value,
    ) -> Result<Value, BillingError> {
        let polar = self.polar()?;
        polar
            .patch::<_, Value>(
                &format!("/v1/subscriptions/{}", path_segment(&id_of(subscription))),
                &body,
            )
            .await
            .map_err(|error| BillingError::from_polar(error, &polar))
    }

    /// `POST /v1/customers/{c}/plan`: moves the entitling subscription to `plan`'s product;
    /// to the default plan, cancels it at the period end.
    pub(crate) async fn change_plan(
        &self,
        customer: &str,
        plan: &str,
        proration: Proration,
    ) -> Result<Done, BillingError> {
        check_customer(customer)?;
        let target = self.plan(plan)?;
        let (from, subscription) = self.subscription_of(customer).await?;
        if from == target.key {
            return Err(BillingError::AlreadyOnPlan {
                customer: customer.to_owned(),
                plan: from,
            });
        }
        let body = if target.key == self.catalog.default_plan().key {
            json!({ "cancel_at_period_end": true })
        } else {
            let mut conn = self.pool.acquire().await?;
            let product = self.product_of(&mut conn, target).await?;
            json!({ "product_id": product, "proration_behavior": proration.as_str() })
        };
        let updated = self.patch_subscription(&subscription, body.clone()).await?;
        Ok(Done {
            status: 200,
            action: "billing.plan_change",
            subject: format!("subscription:{}", id_of(&subscription)),
            customer: Some(customer.to_owned()),
            before: Some(
                json!({ "plan": from, "subscription": subscription_facts(&subscription) }),
            ),
            after: Some(json!({
                "plan": target.key,
                "requested": body,
                "subscription": subscription_facts(&updated),
            })),
            body: json!({ "subscription": updated, "from": from, "to": target.key }),
            reason: None,
        })
    }

    /// `POST /v1/customers/{c}/cancel`: at the period end, or now (revoked).
    pub(crate) async fn cancel(
        &self,
        customer: &str,
        at_period_end: bool,
    ) -> Result<Done, BillingError> {
        check_customer(customer)?;
        let (plan, subscription) = self.subscription_of(customer).await?;
        let path = format!("/v1/subscriptions/{}", path_segment(&id_of(&subscription)));
        let updated = if at_period_end {
            self.patch_subscription(&subscription, json!({ "cancel_at_period_end": true }))
                .await?
        } else {
            let polar = self.polar()?;
            polar
                .delete::<Value>(&path)
                .await
                .map_err(|error| BillingError::from_polar(error, &polar))?
        };
        let ends_at = [
            field(&updated, "ends_at"),
            field(&updated, "ended_at"),
            field(&updated, "current_period_end"),
        ]
        .into_iter()
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Null);
        Ok(Done {
            status: 200,
            action: if at_period_end {
                "billing.cancel"
            } else {
                "billing.revoke"
            },
            subject: format!("subscription:{}", id_of(&subscription)),
            customer: Some(customer.to_owned()),
            before: Some(
                json!({ "plan": plan, "subscription": subscription_facts(&subscription) }),
            ),
            after: Some(json!({ "subscription": subscription_facts(&updated) })),
            body: json!({ "subscription": updated, "ends_at": ends_at }),
            reason: None,
        })
    }

    /// `POST /v1/customers/{c}/uncancel`: the subscription renews again.
    pub(crate) async fn uncancel(&self, customer: &str) -> Result<Done, BillingError> {
        check_customer(customer)?;
        let (plan, subscription) = self.subscription_of(customer).await?;
        let updated = self
            .patch_subscription(&subscription, json!({ "cancel_at_period_end": false }))
            .await?;
        Ok(Done {
            status: 200,
            action: "billing.uncancel",
            subject: format!("subscription:{}", id_of(&subscription)),
            customer: Some(customer.to_owned()),
            before: Some(
                json!({ "plan": plan, "subscription": subscription_facts(&subscription) }),
            ),
            after: Some(json!({ "subscription": subscription_facts(&updated) })),
            body: json!({ "subscription": updated }),
            reason: None,
        })
    }

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
            action: "billing.refund",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_are_encoded_in_paths() {
        assert_eq!(path_segment("user_1"), "user_1");
        assert_eq!(path_segment("a b/c?"), "a%20b%2Fc%3F");
    }
}
