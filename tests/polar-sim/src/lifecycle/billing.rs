//! Money and access: orders, payments, refunds and benefit grants.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::{Emitter, subscriptions};
use crate::error::SimError;
use crate::model::{BenefitGrant, BillingReason, Metadata, Order, OrderItem, OrderStatus, Refund};
use crate::render;
use crate::store::State;

/// What an order is for.
#[derive(Debug, Clone)]
pub struct OrderSpec {
    pub customer_id: Uuid,
    pub product_id: Uuid,
    pub subscription_id: Option<Uuid>,
    pub checkout_id: Option<Uuid>,
    pub billing_reason: BillingReason,
    pub items: Vec<(String, i64, bool)>,
    /// When Polar retries the charge of an order whose payment failed.
    pub next_payment_attempt_at: Option<DateTime<Utc>>,
}

/// Creates an order (status `pending`, `order.created`) and, if `pay`, pays it.
pub fn create_order(
    st: &mut State,
    em: &mut Emitter,
    spec: OrderSpec,
    pay: bool,
) -> Result<Uuid, SimError> {
    let product = st.product(spec.product_id)?;
    let currency = product.price.currency.clone();
    let price_id = product.price.id;
    let billing_name = st.customer(spec.customer_id)?.name.clone();
    let subscription = spec
        .subscription_id
        .and_then(|id| st.subscriptions.get(&id));
    let metadata = subscription.map(|s| s.metadata.clone()).unwrap_or_default();
    let seats = subscription.and_then(|s| s.seats);
    // A subscription's items pay for its current period; a proration item for what is left.
    let current = subscription.map(|s| (s.current_period_start, s.current_period_end));
    let now = st.clock.now();
    let period =
        |proration: bool| current.map(|(start, end)| (if proration { now } else { start }, end));
    let id = Uuid::new_v4();
    let created_at = st.clock.stamp();
    let order = Order {
        id,
        created_at,
        modified_at: created_at,
        status: OrderStatus::Pending,
        currency,
        billing_reason: spec.billing_reason,
        billing_name,
        invoice_number: st.next_invoice_number(),
        customer_id: spec.customer_id,
        product_id: spec.product_id,
        subscription_id: spec.subscription_id,
        checkout_id: spec.checkout_id,
        items: spec
            .items
            .into_iter()
            .map(|(label, amount, proration)| OrderItem {
                id: Uuid::new_v4(),
                label,
                amount,
                proration,
                price_id: Some(price_id),
                period: period(proration),
            })
            .collect(),
        refunded_amount: 0,
        metadata,
        next_payment_attempt_at: spec.next_payment_attempt_at,
        seats,
    };
    st.orders.insert(id, order);
    st.used_products.insert(spec.product_id);
    em.emit(st, "order.created", |st| order_json(st, id));
    if pay {
        pay_order(st, em, id)?;
    }
    Ok(id)
}

fn order_json(st: &State, id: Uuid) -> serde_json::Value {
    st.orders
        .get(&id)
        .map_or(serde_json::Value::Null, |o| render::order(st, o))
}

/// A successful payment: `order.updated` then `order.paid`.
pub fn pay_order(st: &mut State, em: &mut Emitter, id: Uuid) -> Result<(), SimError> {
    let stamp = st.clock.stamp();
    let order = st
        .orders
        .get_mut(&id)
        .ok_or_else(|| SimError::not_found_id("order", id))?;
    if order.status != OrderStatus::Pending {
        return Err(SimError::conflict(
            "order_not_pending",
            format!("order {id} is not pending"),
        ));
    }
    order.status = OrderStatus::Paid;
    order.next_payment_attempt_at = None;
    order.modified_at = stamp;
    let snapshot = order.clone();
    em.emit_all(st, &["order.updated", "order.paid"], |st| {
        render::order(st, &snapshot)
    });
    em.touch(snapshot.customer_id);
    Ok(())
}

/// Grants each benefit of the subscription's product that it does not hold yet.
pub fn grant_benefits(
    st: &mut State,
    em: &mut Emitter,
    subscription_id: Uuid,
) -> Result<(), SimError> {
    let sub = st.subscription(subscription_id)?;
    let (customer_id, product_id) = (sub.customer_id, sub.product_id);
    let benefits = st.product(product_id)?.benefit_ids.clone();
    let held: Vec<Uuid> = st
        .grants_of(subscription_id)
        .iter()
        .filter_map(|id| st.grants.get(id))
        .filter(|g| g.is_granted())
        .map(|g| g.benefit_id)
        .collect();
    for benefit_id in benefits {
        if held.contains(&benefit_id) {
            continue;
        }
        let stamp = st.clock.stamp();
        let grant = BenefitGrant {
            id: Uuid::new_v4(),
            created_at: stamp,
            modified_at: stamp,
            granted_at: Some(stamp),
            revoked_at: None,
            subscription_id: Some(subscription_id),
            order_id: None,
            customer_id,
            benefit_id,
        };
        let snapshot = grant.clone();
        st.insert_grant(grant);
        em.emit(st, "benefit_grant.created", |st| {
            render::grant(st, &snapshot)
        });
    }
    em.touch(customer_id);
    Ok(())
}

/// Revokes the subscription's grants whose benefit the product no longer carries (all of them
/// when `all`).
pub fn revoke_benefits(
    st: &mut State,
    em: &mut Emitter,
    subscription_id: Uuid,
    all: bool,
) -> Result<(), SimError> {
    let sub = st.subscription(subscription_id)?;
    let keep = if all {
        Vec::new()
    } else {
        st.product(sub.product_id)?.benefit_ids.clone()
    };
    let ids: Vec<Uuid> = st
        .grants_of(subscription_id)
        .into_iter()
        .filter(|id| {
            st.grants
                .get(id)
                .is_some_and(|g| g.is_granted() && !keep.contains(&g.benefit_id))
        })
        .collect();
    for id in ids {
        let stamp = st.clock.stamp();
        let snapshot = match st.grants.get_mut(&id) {
            Some(g) => {
                g.revoked_at = Some(stamp);
                g.modified_at = stamp;
                g.clone()
            }
            None => continue,
        };
        em.emit(st, "benefit_grant.revoked", |st| {
            render::grant(st, &snapshot)
        });
        em.touch(snapshot.customer_id);
    }
    Ok(())
}

/// A refund request.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundRequest {
    pub order_id: Uuid,
    /// Minor units; the whole refundable amount when absent.
    pub amount: Option<i64>,
    #[serde(default = "default_reason")]
    pub reason: String,
    #[serde(default)]
    pub revoke_benefits: bool,
    #[serde(default)]
    pub metadata: Metadata,
}

fn default_reason() -> String {
    "customer_request".to_owned()
}

pub const REFUND_REASONS: &[&str] = &[
    "duplicate",
    "fraudulent",
    "customer_request",
    "service_disruption",
    "satisfaction_guarantee",
    "other",
];

/// Refunds (part of) an order: `refund.created`, `order.updated`, `order.refunded`; with
/// `revoke_benefits`, the order's subscription is revoked too.
pub fn refund(st: &mut State, em: &mut Emitter, req: RefundRequest) -> Result<Uuid, SimError> {
    if !REFUND_REASONS.contains(&req.reason.as_str()) {
        return Err(SimError::invalid(
            "reason",
            format!("unknown refund reason {:?}", req.reason),
        ));
    }
    let order = st.order(req.order_id)?.clone();
    if order.status == OrderStatus::Pending {
        return Err(SimError::conflict(
            "order_not_paid",
            "the order is not paid",
        ));
    }
    let refundable = order.subtotal() - order.refunded_amount;
    if refundable <= 0 {
        return Err(SimError::conflict(
            "RefundedAlready",
            "Order is already fully refunded.",
        ));
    }
    let amount = req.amount.unwrap_or(refundable);
    if amount <= 0 {
        return Err(SimError::invalid(
            "amount",
            "Input should be greater than 0",
        ));
    }
    if amount > refundable {
        return Err(SimError::invalid(
            "amount",
            format!("Refund amount {amount} exceeds the refundable amount {refundable}."),
        ));
    }
    let stamp = st.clock.stamp();
    let refund = Refund {
        id: Uuid::new_v4(),
        created_at: stamp,
        modified_at: stamp,
        reason: req.reason,
        amount,
        currency: order.currency.clone(),
        order_id: order.id,
        subscription_id: order.subscription_id,
        customer_id: order.customer_id,
        revoke_benefits: req.revoke_benefits,
        metadata: req.metadata,
    };
    let refund_id = refund.id;
    let snapshot = refund.clone();
    st.refunds.insert(refund_id, refund);
    em.emit(st, "refund.created", |st| render::refund(st, &snapshot));

    let stamp = st.clock.stamp();
    let snapshot = {
        let o = st
            .orders
            .get_mut(&order.id)
            .ok_or_else(|| SimError::not_found_id("order", order.id))?;
        o.refunded_amount += amount;
        o.status = if o.refunded_amount >= o.subtotal() {
            OrderStatus::Refunded
        } else {
            OrderStatus::PartiallyRefunded
        };
        o.modified_at = stamp;
        o.clone()
    };
    em.emit_all(st, &["order.updated", "order.refunded"], |st| {
        render::order(st, &snapshot)
    });
    em.touch(order.customer_id);

    if req.revoke_benefits
        && let Some(sub_id) = order.subscription_id
        && st
            .subscription(sub_id)
            .is_ok_and(|s| !s.status.is_revoked())
    {
        subscriptions::revoke(st, em, sub_id, None)?;
    }
    Ok(refund_id)
}
