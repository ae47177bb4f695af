//! Checkouts (open, confirmed, succeeded, expired) and customer portal sessions.

use chrono::Duration;
use serde::Deserialize;
use uuid::Uuid;

use super::{Emitter, customers, subscriptions};
use crate::error::SimError;
use crate::model::{Checkout, CheckoutStatus, CustomerSession, Metadata};
use crate::render;
use crate::store::State;
use crate::token::random_token;

/// A checkout session request (`CheckoutProductsCreate`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewCheckout {
    pub products: Vec<Uuid>,
    pub customer_id: Option<Uuid>,
    pub external_customer_id: Option<String>,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    pub success_url: Option<String>,
    pub return_url: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub customer_metadata: Metadata,
    #[serde(default = "yes")]
    pub allow_trial: bool,
    /// `day`, `week`, `month` or `year`.
    pub trial_interval: Option<String>,
    pub trial_interval_count: Option<u32>,
    /// Seats for a seat-based product. Polar's newest models call them `units`; both are
    /// accepted and must agree.
    pub seats: Option<u32>,
    pub units: Option<u32>,
}

/// A checkout trial in days (months and years counted as 30 and 365 days).
fn trial_days(interval: Option<&str>, count: Option<u32>) -> Result<Option<u32>, SimError> {
    let per = match interval {
        None => return Ok(None),
        Some("day") => 1,
        Some("week") => 7,
        Some("month") => 30,
        Some("year") => 365,
        Some(_) => {
            return Err(SimError::invalid(
                "trial_interval",
                "Input should be 'day', 'week', 'month' or 'year'",
            ));
        }
    };
    Ok(Some(count.unwrap_or(1).saturating_mul(per)))
}

fn yes() -> bool {
    true
}

pub fn create_checkout(
    st: &mut State,
    em: &mut Emitter,
    new: NewCheckout,
) -> Result<Uuid, SimError> {
    let Some(&first) = new.products.first() else {
        return Err(SimError::invalid(
            "products",
            "List should have at least 1 item after validation, not 0",
        ));
    };
    for (i, id) in new.products.iter().enumerate() {
        let p = st.products.get(id).filter(|p| !p.is_archived);
        if p.is_none() {
            return Err(SimError::invalid(
                format!("products.{i}"),
                "Product does not exist.",
            ));
        }
    }
    if let Some(cid) = new.customer_id {
        st.customer(cid)
            .map_err(|_| SimError::invalid("customer_id", "Customer does not exist."))?;
    }
    let trial_days = trial_days(new.trial_interval.as_deref(), new.trial_interval_count)?;
    let seats = match (new.seats, new.units) {
        (Some(a), Some(b)) if a != b => {
            return Err(SimError::invalid("units", "seats and units must agree"));
        }
        (seats, units) => seats.or(units),
    };
    if seats.is_some()
        && !new
            .products
            .iter()
            .any(|id| st.products.get(id).is_some_and(|p| p.price.seats.is_some()))
    {
        return Err(SimError::invalid(
            "units",
            "units can only be set for seat-based pricing",
        ));
    }
    for id in &new.products {
        if let Some(p) = st.products.get(id) {
            subscriptions::seats_for(&p.price, seats)?;
        }
    }
    let id = Uuid::new_v4();
    let created_at = st.clock.stamp();
    let client_secret = format!("polar_c_{}", random_token(48));
    let success_url = new
        .success_url
        .unwrap_or_else(|| format!("{}/checkout/{}/confirmation", st.base_url, client_secret))
        .replace("{CHECKOUT_ID}", &id.to_string());
    let checkout = Checkout {
        id,
        created_at,
        modified_at: None,
        status: CheckoutStatus::Open,
        client_secret,
        expires_at: created_at + Duration::hours(24),
        success_url,
        return_url: new.return_url,
        product_ids: new.products,
        product_id: first,
        customer_id: new.customer_id,
        external_customer_id: new.external_customer_id,
        customer_email: new.customer_email,
        customer_name: new.customer_name,
        metadata: new.metadata,
        customer_metadata: new.customer_metadata,
        allow_trial: new.allow_trial,
        trial_days,
        subscription_id: None,
        seats,
    };
    let snapshot = checkout.clone();
    st.checkouts.insert(id, checkout);
    em.emit(st, "checkout.created", |st| render::checkout(st, &snapshot));
    Ok(id)
}

/// The buyer pays: `checkout.updated` (confirmed), the customer (created if needed), the
/// subscription with its order and grants, then `checkout.updated` (succeeded).
pub fn complete_checkout(
    st: &mut State,
    em: &mut Emitter,
    id: Uuid,
    product: Option<Uuid>,
) -> Result<Uuid, SimError> {
    let checkout = st
        .checkouts
        .get(&id)
        .cloned()
        .ok_or_else(|| SimError::not_found_id("checkout", id))?;
    if checkout.status != CheckoutStatus::Open {
        return Err(SimError::conflict(
            "checkout_not_open",
            format!("checkout {id} is {}", checkout.status.as_str()),
        ));
    }
    let product_id = product.unwrap_or(checkout.product_id);
    if !checkout.product_ids.contains(&product_id) {
        return Err(SimError::invalid(
            "product",
            "the product is not offered by this checkout",
        ));
    }
    set_checkout_status(st, em, id, CheckoutStatus::Confirmed, None)?;

    let customer_id = match (checkout.customer_id, &checkout.external_customer_id) {
        (Some(cid), _) => cid,
        (None, Some(ext)) => match st.customer_by_external_id(ext) {
            Some(c) => c.id,
            None => customers::create(
                st,
                em,
                customers::NewCustomer {
                    external_id: Some(ext.clone()),
                    email: checkout.customer_email.clone(),
                    name: checkout.customer_name.clone(),
                    metadata: checkout.customer_metadata.clone(),
                },
            )?,
        },
        (None, None) => {
            let email = checkout.customer_email.clone().unwrap_or_else(|| {
                format!(
                    "buyer-{}@example.com",
                    id.simple().to_string().chars().take(8).collect::<String>()
                )
            });
            match st
                .customers
                .values()
                .find(|c| c.deleted_at.is_none() && c.email == email)
            {
                Some(c) => c.id,
                None => customers::create(
                    st,
                    em,
                    customers::NewCustomer {
                        external_id: None,
                        email: Some(email),
                        name: checkout.customer_name.clone(),
                        metadata: checkout.customer_metadata.clone(),
                    },
                )?,
            }
        }
    };
    let trial_days = if checkout.allow_trial {
        checkout.trial_days.or(st.product(product_id)?.trial_days)
    } else {
        None
    };
    let sub = subscriptions::start(
        st,
        em,
        subscriptions::Start {
            customer_id,
            product_id,
            trial_days,
            checkout_id: Some(id),
            metadata: checkout.metadata.clone(),
            seats: checkout.seats,
        },
    )?;
    if let Some(c) = st.checkouts.get_mut(&id) {
        c.customer_id = Some(customer_id);
        c.product_id = product_id;
    }
    set_checkout_status(st, em, id, CheckoutStatus::Succeeded, Some(sub))?;
    Ok(sub)
}

fn set_checkout_status(
    st: &mut State,
    em: &mut Emitter,
    id: Uuid,
    status: CheckoutStatus,
    subscription_id: Option<Uuid>,
) -> Result<(), SimError> {
    let stamp = st.clock.stamp();
    let snapshot = {
        let c = st
            .checkouts
            .get_mut(&id)
            .ok_or_else(|| SimError::not_found_id("checkout", id))?;
        c.status = status;
        c.modified_at = Some(stamp);
        if subscription_id.is_some() {
            c.subscription_id = subscription_id;
        }
        c.clone()
    };
    let event = if status == CheckoutStatus::Expired {
        "checkout.expired"
    } else {
        "checkout.updated"
    };
    em.emit(st, event, |st| render::checkout(st, &snapshot));
    Ok(())
}

/// Expires open checkouts whose `expires_at` has passed.
pub fn expire_checkouts(st: &mut State, em: &mut Emitter) -> Result<(), SimError> {
    let now = st.clock.now();
    let due: Vec<Uuid> = st
        .checkouts
        .values()
        .filter(|c| c.status == CheckoutStatus::Open && c.expires_at <= now)
        .map(|c| c.id)
        .collect();
    for id in due {
        set_checkout_status(st, em, id, CheckoutStatus::Expired, None)?;
    }
    Ok(())
}

/// A customer portal session (no webhook).
pub fn create_session(
    st: &mut State,
    customer_id: Uuid,
    return_url: Option<String>,
) -> Result<Uuid, SimError> {
    st.customer(customer_id)?;
    let created_at = st.clock.stamp();
    let session = CustomerSession {
        id: Uuid::new_v4(),
        created_at,
        token: format!("polar_cst_{}", random_token(43)),
        expires_at: created_at + Duration::hours(1),
        return_url,
        customer_id,
    };
    let id = session.id;
    st.sessions.insert(id, session);
    Ok(id)
}
