//! Clerk's user events as Polar customers: `user.created` and `user.updated` make or update the
//! Polar customer whose `external_id` is the Clerk user id (primary e-mail, full name);
//! `user.deleted` deletes it.

use super::{Action, Billing, BillingError, Done, field, path_segment, set};
use serde_json::{Value, json};

/// A Clerk event tollgate acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClerkEvent {
    /// `user.created` / `user.updated`.
    Upsert {
        user: String,
        email: Option<String>,
        name: Option<String>,
    },
    /// `user.deleted`.
    Delete { user: String },
    /// Another type: acknowledged, nothing done.
    Other,
}

impl ClerkEvent {
    /// Reads `{type, data}` as Clerk sends it; `Err` names what is missing.
    pub(crate) fn parse(event: &Value) -> Result<(String, Self), String> {
        let kind = field(event, "type")
            .as_str()
            .ok_or("the body has no `type`")?
            .to_owned();
        let data = field(event, "data");
        let user = || {
            field(data, "id")
                .as_str()
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| format!("a `{kind}` event without `data.id`"))
        };
        let parsed = match kind.as_str() {
            "user.created" | "user.updated" => {
                let primary = field(data, "primary_email_address_id").as_str();
                let addresses = field(data, "email_addresses").as_array();
                let email = addresses
                    .and_then(|list| {
                        list.iter()
                            .find(|a| primary.is_some() && field(a, "id").as_str() == primary)
                            .or_else(|| list.first())
                    })
                    .and_then(|a| field(a, "email_address").as_str())
                    .map(str::to_owned);
                let name = [field(data, "first_name"), field(data, "last_name")]
                    .iter()
                    .filter_map(|part| part.as_str())
                    .filter(|part| !part.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                ClerkEvent::Upsert {
                    user: user()?,
                    email,
                    name: (!name.is_empty()).then_some(name),
                }
            }
            "user.deleted" => ClerkEvent::Delete { user: user()? },
            _ => ClerkEvent::Other,
        };
        Ok((kind, parsed))
    }

    pub(crate) fn user(&self) -> Option<&str> {
        match self {
            ClerkEvent::Upsert { user, .. } | ClerkEvent::Delete { user } => Some(user),
            ClerkEvent::Other => None,
        }
    }
}

impl Billing {
    /// Carries out a Clerk event in Polar; `None` for an event type tollgate ignores.
    pub(crate) async fn clerk(&self, event: &ClerkEvent) -> Result<Option<Done>, BillingError> {
        let polar = self.polar()?;
        let from_polar = |error| BillingError::from_polar(error, &polar);
        match event {
            ClerkEvent::Other => Ok(None),
            ClerkEvent::Upsert { user, email, name } => {
                let path = format!("/v1/customers/external/{}", path_segment(user));
                let mut fields = json!({});
                if let Some(email) = email {
                    set(&mut fields, "email", json!(email));
                }
                if let Some(name) = name {
                    set(&mut fields, "name", json!(name));
                }
                let (action, before, object) = match polar.get::<Value>(&path, &[]).await {
                    Ok(found) => {
                        let updated = polar
                            .patch::<_, Value>(&path, &fields)
                            .await
                            .map_err(from_polar)?;
                        let before = json!({ "email": field(&found, "email"), "name": field(&found, "name") });
                        (Action::ClerkCustomerUpdate, Some(before), updated)
                    }
                    Err(error) if error.is_not_found() => {
                        let Some(email) = email else {
                            return Err(BillingError::InvalidRequest(format!(
                                "Clerk user `{user}` has no e-mail address; Polar needs one"
                            )));
                        };
                        let mut body = json!({ "external_id": user, "email": email });
                        if let Some(name) = name {
                            set(&mut body, "name", json!(name));
                        }
                        let made = polar
                            .post::<_, Value>("/v1/customers/", &body)
                            .await
                            .map_err(from_polar)?;
                        (Action::ClerkCustomerCreate, None, made)
                    }
                    Err(error) => return Err(from_polar(error)),
                };
                let after = json!({
                    "polar_id": field(&object, "id"),
                    "email": field(&object, "email"),
                    "name": field(&object, "name"),
                });
                Ok(Some(Done {
                    status: 200,
                    action,
                    subject: format!("customer:{user}"),
                    customer: Some(user.clone()),
                    before,
                    after: Some(after.clone()),
                    body: after,
                    reason: None,
                }))
            }
            ClerkEvent::Delete { user } => {
                let path = format!("/v1/customers/external/{}", path_segment(user));
                let deleted = match polar.delete::<Value>(&path).await {
                    Ok(_) => true,
                    Err(error) if error.is_not_found() => false,
                    Err(error) => return Err(from_polar(error)),
                };
                Ok(Some(Done {
                    status: 200,
                    action: Action::ClerkCustomerDelete,
                    subject: format!("customer:{user}"),
                    customer: Some(user.clone()),
                    before: None,
                    after: Some(json!({ "deleted": deleted })),
                    body: json!({ "deleted": deleted }),
                    reason: None,
                }))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_primary_address_and_full_name_are_taken() {
        let event = json!({
            "type": "user.created",
            "data": {
                "id": "user_2x",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "primary_email_address_id": "idn_2",
                "email_addresses": [
                    {"id": "idn_1", "email_address": "old@example.com"},
                    {"id": "idn_2", "email_address": "ada@example.com"}
                ]
            }
        });
        let (kind, parsed) = ClerkEvent::parse(&event).unwrap();
        assert_eq!(kind, "user.created");
        assert_eq!(
            parsed,
            ClerkEvent::Upsert {
                user: "user_2x".into(),
                email: Some("ada@example.com".into()),
                name: Some("Ada Lovelace".into())
            }
        );
        let deleted = json!({"type": "user.deleted", "data": {"id": "user_2x", "deleted": true}});
        assert_eq!(
            ClerkEvent::parse(&deleted).unwrap().1,
            ClerkEvent::Delete {
                user: "user_2x".into()
            }
        );
        assert!(ClerkEvent::parse(&json!({"type": "user.deleted", "data": {}})).is_err());
    }
}
