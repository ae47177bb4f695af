//! Selling a plan: a Polar checkout (`POST /v1/checkouts`) and the customer portal
//! (`POST /v1/portal-sessions`).

use super::{Action, Billing, BillingError, Done, check_customer, check_url, field, id_of, set};

use serde_json::{Value, json};

impl Billing {
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
            action: Action::Checkout,
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
            action: Action::PortalSession,
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
}
