//! The customer in Polar: found by the app's user id, or made (`POST /v1/customers`).

use super::{Action, Billing, BillingError, Done, check_customer, field, id_of, path_segment, set};
use crate::db;

use serde_json::{Value, json};
use sqlx::PgConnection;

impl Billing {
    /// The Polar id of `customer` from PostgreSQL, else from Polar.
    pub(super) async fn known_customer(
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
    pub(super) async fn stored_customer(
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
            action: Action::CustomerCreate,
            subject: format!("customer:{customer}"),
            customer: Some(customer.to_owned()),
            before: None,
            after: (status == 201).then(|| body.clone()),
            body,
            reason: None,
        })
    }
}
