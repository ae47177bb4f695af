//! Changing the subscription that entitles a customer: plan changes, cancellation (at the
//! period end or now) and taking a cancellation back.

use super::{Action, Billing, BillingError, Done, check_customer, field, id_of, path_segment};

use serde::Deserialize;
use serde_json::{Value, json};

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
            action: Action::PlanChange,
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
            action: Action::cancel(at_period_end),
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
            action: Action::Uncancel,
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
}
