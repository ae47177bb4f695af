//! The catalog: products (and their feature-flag benefits) created or changed in Polar's
//! dashboard.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Emitter;
use crate::error::SimError;
use crate::model::{Interval, Metadata};
use crate::render;
use crate::seed::{self, NewProduct};
use crate::store::State;

/// `benefit.created` for each new benefit, then `product.created`.
pub fn create_product(st: &mut State, em: &mut Emitter, new: NewProduct) -> Result<Uuid, SimError> {
    if new.name.trim().is_empty() {
        return Err(SimError::invalid("name", "must not be empty"));
    }
    if new.price_amount < 0 {
        return Err(SimError::invalid("price_amount", "must not be negative"));
    }
    let id = seed::add_product(st, new);
    let benefits = st.product(id)?.benefit_ids.clone();
    for b in benefits {
        em.emit(st, "benefit.created", |st| {
            st.benefits
                .get(&b)
                .map_or(serde_json::Value::Null, |b| render::benefit(st, b))
        });
    }
    em.emit(st, "product.created", |st| {
        st.products
            .get(&id)
            .map_or(serde_json::Value::Null, |p| render::product(st, p))
    });
    Ok(id)
}

/// Changes to a product; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<Metadata>,
    pub is_archived: Option<bool>,
    /// Minor units; changes what new periods cost, not existing subscriptions.
    pub price_amount: Option<i64>,
}

/// `product.updated`.
pub fn update_product(
    st: &mut State,
    em: &mut Emitter,
    id: Uuid,
    patch: ProductPatch,
) -> Result<(), SimError> {
    st.product(id)?;
    if patch.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(SimError::invalid("name", "must not be empty"));
    }
    if patch.price_amount.is_some_and(|a| a < 0) {
        return Err(SimError::invalid("price_amount", "must not be negative"));
    }
    let stamp = st.clock.stamp();
    let p = st
        .products
        .get_mut(&id)
        .ok_or_else(|| SimError::not_found_id("product", id))?;
    if let Some(name) = patch.name {
        p.name = name;
    }
    if let Some(description) = patch.description {
        p.description = Some(description);
    }
    if let Some(metadata) = patch.metadata {
        p.metadata = metadata;
    }
    if let Some(archived) = patch.is_archived {
        p.is_archived = archived;
    }
    if let Some(amount) = patch.price_amount {
        p.price.amount = amount;
    }
    p.modified_at = Some(stamp);
    em.emit(st, "product.updated", |st| {
        st.products
            .get(&id)
            .map_or(serde_json::Value::Null, |p| render::product(st, p))
    });
    Ok(())
}

/// A monthly (or other) product with one feature-flag benefit carrying the product's metadata.
pub fn recurring(
    name: &str,
    price_amount: i64,
    interval: Interval,
    metadata: Metadata,
) -> NewProduct {
    NewProduct {
        name: name.to_owned(),
        description: None,
        price_amount,
        currency: "usd".into(),
        interval: Some(interval),
        trial_days: None,
        benefits: vec![(format!("{name} features"), metadata.clone())],
        metadata,
        seats: None,
    }
}
