//! Customers: create, update, delete (soft, as Polar does).

use serde::Deserialize;
use uuid::Uuid;

use super::{Emitter, subscriptions};
use crate::error::SimError;
use crate::model::{Customer, Metadata};
use crate::render;
use crate::store::State;

/// A new customer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewCustomer {
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
}

/// Changes to a customer; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CustomerPatch {
    pub email: Option<String>,
    pub name: Option<String>,
    pub metadata: Option<Metadata>,
    pub external_id: Option<String>,
}

pub fn create(st: &mut State, em: &mut Emitter, new: NewCustomer) -> Result<Uuid, SimError> {
    let email = match (new.email, &new.external_id) {
        (Some(e), _) => e,
        (None, Some(ext)) => format!("{}@example.com", ext.to_ascii_lowercase()),
        (None, None) => {
            return Err(SimError::invalid(
                "email",
                "an email or an external_id is required",
            ));
        }
    };
    validate_email(&email)?;
    if let Some(ext) = &new.external_id {
        if ext.is_empty() {
            return Err(SimError::invalid("external_id", "must not be empty"));
        }
        if st.customer_by_external_id(ext).is_some() {
            return Err(SimError::invalid(
                "external_id",
                "A customer with this external ID already exists.",
            ));
        }
    }
    if st.email_taken(&email, None) {
        return Err(SimError::invalid(
            "email",
            "A customer with this email address already exists.",
        ));
    }
    let id = Uuid::new_v4();
    let created_at = st.clock.stamp();
    let customer = Customer {
        id,
        created_at,
        modified_at: None,
        external_id: new.external_id,
        email,
        name: new.name,
        metadata: new.metadata,
        deleted_at: None,
    };
    let snapshot = customer.clone();
    st.customers.insert(id, customer);
    st.index_customer(id);
    em.emit(st, "customer.created", |st| render::customer(st, &snapshot));
    em.touch(id);
    Ok(id)
}

pub fn update(
    st: &mut State,
    em: &mut Emitter,
    id: Uuid,
    patch: CustomerPatch,
) -> Result<(), SimError> {
    let current = st.customer(id)?.clone();
    if let Some(email) = &patch.email {
        validate_email(email)?;
        if st.email_taken(email, Some(id)) {
            return Err(SimError::invalid(
                "email",
                "A customer with this email address already exists.",
            ));
        }
    }
    if let Some(ext) = &patch.external_id
        && current.external_id.as_deref() != Some(ext.as_str())
    {
        if current.external_id.is_some() {
            return Err(SimError::invalid(
                "external_id",
                "Customer external ID cannot be updated.",
            ));
        }
        if st.customer_by_external_id(ext).is_some() {
            return Err(SimError::invalid(
                "external_id",
                "A customer with this external ID already exists.",
            ));
        }
    }
    let stamp = st.clock.stamp();
    let data = {
        let c = st
            .customers
            .get_mut(&id)
            .ok_or_else(|| SimError::not_found_id("customer", id))?;
        if let Some(email) = patch.email {
            c.email = email;
        }
        if let Some(name) = patch.name {
            c.name = Some(name);
        }
        if let Some(metadata) = patch.metadata {
            c.metadata = metadata;
        }
        if let Some(ext) = patch.external_id {
            c.external_id = Some(ext);
        }
        c.modified_at = Some(stamp);
        c.clone()
    };
    st.index_customer(id);
    em.emit(st, "customer.updated", |st| render::customer(st, &data));
    em.touch(id);
    Ok(())
}

/// Soft-deletes a customer; its subscriptions are revoked first, as Polar does.
pub fn delete(st: &mut State, em: &mut Emitter, id: Uuid) -> Result<(), SimError> {
    st.customer(id)?;
    let live: Vec<Uuid> = st
        .subscriptions
        .values()
        .filter(|s| s.customer_id == id && !s.status.is_revoked())
        .map(|s| s.id)
        .collect();
    for sub in live {
        subscriptions::revoke(st, em, sub, None)?;
    }
    let stamp = st.clock.stamp();
    let snapshot = {
        let c = st
            .customers
            .get_mut(&id)
            .ok_or_else(|| SimError::not_found_id("customer", id))?;
        c.deleted_at = Some(stamp);
        c.modified_at = Some(stamp);
        c.clone()
    };
    st.index_customer(id);
    em.emit(st, "customer.deleted", |st| render::customer(st, &snapshot));
    em.touch(id);
    Ok(())
}

fn validate_email(email: &str) -> Result<(), SimError> {
    let valid = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if valid {
        Ok(())
    } else {
        Err(SimError::invalid(
            "email",
            "value is not a valid email address",
        ))
    }
}
