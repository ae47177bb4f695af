//! Subscription lifecycles, following Polar's documented webhook sequences.
//!
//! | change | webhooks |
//! |---|---|
//! | start | `subscription.created`, `subscription.active`, `order.created`/`order.updated`/`order.paid` (not for trials), `benefit_grant.created` |
//! | cancel at period end | `subscription.updated`, `subscription.canceled` |
//! | uncancel | `subscription.updated`, `subscription.uncanceled` |
//! | revoke | `subscription.updated`, `subscription.canceled`, `subscription.revoked`, `benefit_grant.revoked` |
//! | product change | `subscription.updated`, then the proration order (if any) and grant changes; `prorate` bills the difference with the next renewal |
//! | renewal | `subscription.cycled`, `subscription.updated`, `order.created`, `order.updated`, `order.paid` |
//! | failed renewal | as renewal up to `order.created`, then `subscription.updated`, `subscription.past_due` |
//! | recovery | `order.updated`, `order.paid`, `subscription.updated`, `subscription.active` |
//! | period end after cancel | `subscription.updated`, `subscription.revoked`, `benefit_grant.revoked` |
//!
//! Every operation ends with `customer.state_changed` (see `Emitter::finish`).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Emitter;
use super::billing::{self, OrderSpec};
use crate::error::SimError;
use crate::model::{
    BillingReason, Metadata, OrderStatus, PendingUpdate, Subscription, SubscriptionStatus,
};
use crate::render;
use crate::store::State;

/// A new subscription.
#[derive(Debug, Clone)]
pub struct Start {
    pub customer_id: Uuid,
    pub product_id: Uuid,
    pub trial_days: Option<u32>,
    pub checkout_id: Option<Uuid>,
    pub metadata: Metadata,
    /// Seats, for a seat-based product; `None` buys the price's minimum.
    pub seats: Option<u32>,
}

/// How a product change is billed (Polar's `proration_behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proration {
    /// Charge the prorated difference now.
    Invoice,
    /// Add the prorated difference to the next invoice.
    #[default]
    Prorate,
    /// Change the product at the end of the period.
    NextPeriod,
    /// Change now and start a new period.
    Reset,
}

/// Whether a renewal's payment goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payment {
    #[default]
    Succeeds,
    Fails,
}

/// Days after a failed renewal when Polar retries the charge.
const FIRST_RETRY_DAYS: i64 = 2;

pub(super) fn emit_sub(
    st: &mut State,
    em: &mut Emitter,
    id: Uuid,
    events: &[&str],
) -> Result<(), SimError> {
    let customer_id = st.subscription(id)?.customer_id;
    em.emit_all(st, events, |st| {
        st.subscriptions
            .get(&id)
            .map_or(serde_json::Value::Null, |s| render::subscription(st, s))
    });
    em.touch(customer_id);
    Ok(())
}

/// Applies `change` to a subscription and advances its `modified_at`.
pub(super) fn modify(
    st: &mut State,
    id: Uuid,
    change: impl FnOnce(&mut Subscription, DateTime<Utc>),
) -> Result<(), SimError> {
    let now = st.clock.now();
    let stamp = st.clock.stamp();
    let sub = st.subscription_mut(id)?;
    change(sub, now);
    sub.modified_at = stamp;
    let product_id = sub.product_id;
    st.used_products.insert(product_id);
    Ok(())
}

pub fn start(st: &mut State, em: &mut Emitter, start: Start) -> Result<Uuid, SimError> {
    st.customer(start.customer_id)?;
    let product = st.product(start.product_id)?.clone();
    let Some(interval) = product.recurring_interval else {
        return Err(SimError::invalid("product", "the product is not recurring"));
    };
    if product.is_archived {
        return Err(SimError::invalid("product", "the product is archived"));
    }
    let seats = seats_for(&product.price, start.seats)?;
    let now = st.clock.now();
    let stamp = st.clock.stamp();
    let trial_end = start
        .trial_days
        .filter(|d| *d > 0)
        .map(|d| now + Duration::days(i64::from(d)));
    let id = Uuid::new_v4();
    let sub = Subscription {
        id,
        created_at: stamp,
        modified_at: stamp,
        amount: product.price.total(seats),
        currency: product.price.currency.clone(),
        interval,
        status: if trial_end.is_some() {
            SubscriptionStatus::Trialing
        } else {
            SubscriptionStatus::Active
        },
        current_period_start: now,
        current_period_end: trial_end.unwrap_or_else(|| interval.after(now, 1)),
        trial_start: trial_end.map(|_| now),
        trial_end,
        cancel_at_period_end: false,
        canceled_at: None,
        started_at: Some(now),
        ends_at: None,
        ended_at: None,
        past_due_at: None,
        customer_id: start.customer_id,
        product_id: start.product_id,
        checkout_id: start.checkout_id,
        cancellation_reason: None,
        cancellation_comment: None,
        metadata: start.metadata,
        pending_update: None,
        seats,
        discount: None,
    };
    st.subscriptions.insert(id, sub);
    st.used_products.insert(start.product_id);
    emit_sub(st, em, id, &["subscription.created", "subscription.active"])?;
    if trial_end.is_none() {
        billing::create_order(
            st,
            em,
            OrderSpec {
                customer_id: start.customer_id,
                product_id: start.product_id,
                subscription_id: Some(id),
                checkout_id: start.checkout_id,
                billing_reason: BillingReason::SubscriptionCreate,
                items: vec![(product.name.clone(), product.price.total(seats), false)],
                next_payment_attempt_at: None,
            },
            true,
        )?;
    }
    billing::grant_benefits(st, em, id)?;
    Ok(id)
}

/// The seats a new subscription to a product with this price gets: `None` unless the price is
/// seat-based, then `wanted` (or the price's minimum) within the price's limits.
pub fn seats_for(
    price: &crate::model::Price,
    wanted: Option<u32>,
) -> Result<Option<u32>, SimError> {
    let Some(limits) = price.seats else {
        return Ok(None);
    };
    let seats = wanted.unwrap_or(limits.minimum);
    if !limits.allows(seats) {
        return Err(SimError::invalid(
            "seats",
            format!(
                "seats must be between {} and {}",
                limits.minimum,
                limits
                    .maximum
                    .map_or_else(|| "unlimited".to_owned(), |m| m.to_string())
            ),
        ));
    }
    Ok(Some(seats))
}

/// Schedules (`true`) or removes (`false`) the cancellation at the period end.
pub fn set_cancel_at_period_end(
    st: &mut State,
    em: &mut Emitter,
    id: Uuid,
    cancel: bool,
    reason: Option<String>,
    comment: Option<String>,
) -> Result<(), SimError> {
    let sub = st.subscription(id)?;
    if sub.status.is_revoked() {
        return Err(already_canceled());
    }
    if cancel {
        if sub.cancel_at_period_end {
            return Err(already_canceled());
        }
        modify(st, id, |s, now| {
            s.cancel_at_period_end = true;
            s.canceled_at = Some(now);
            s.ends_at = Some(s.current_period_end);
            s.cancellation_reason = reason;
            s.cancellation_comment = comment;
        })?;
        emit_sub(
            st,
            em,
            id,
            &["subscription.updated", "subscription.canceled"],
        )
    } else {
        if !sub.cancel_at_period_end {
            return Err(SimError::conflict(
                "not_canceled",
                "the subscription has no scheduled cancellation",
            ));
        }
        modify(st, id, |s, _| {
            s.cancel_at_period_end = false;
            s.canceled_at = None;
            s.ends_at = None;
            s.cancellation_reason = None;
            s.cancellation_comment = None;
        })?;
        emit_sub(
            st,
            em,
            id,
            &["subscription.updated", "subscription.uncanceled"],
        )
    }
}

fn already_canceled() -> SimError {
    SimError::conflict(
        "AlreadyCanceledSubscription",
        "This subscription is already canceled or will be at the end of the period.",
    )
}

/// Ends the subscription now.
pub fn revoke(
    st: &mut State,
    em: &mut Emitter,
    id: Uuid,
    reason: Option<String>,
) -> Result<(), SimError> {
    if st.subscription(id)?.status.is_revoked() {
        return Err(already_canceled());
    }
    modify(st, id, |s, now| {
        s.status = SubscriptionStatus::Canceled;
        s.cancel_at_period_end = false;
        s.canceled_at = Some(s.canceled_at.unwrap_or(now));
        s.ends_at = Some(now);
        s.ended_at = Some(now);
        s.pending_update = None;
        if reason.is_some() {
            s.cancellation_reason = reason;
        }
    })?;
    emit_sub(
        st,
        em,
        id,
        &[
            "subscription.updated",
            "subscription.canceled",
            "subscription.revoked",
        ],
    )?;
    billing::revoke_benefits(st, em, id, true)
}

/// Moves the subscription to another product.
pub fn change_product(
    st: &mut State,
    em: &mut Emitter,
    id: Uuid,
    product_id: Uuid,
    proration: Proration,
) -> Result<(), SimError> {
    let sub = st.subscription(id)?.clone();
    if !sub.status.is_active() {
        return Err(SimError::conflict(
            "InactiveSubscription",
            "This subscription is not active.",
        ));
    }
    let new = st.product(product_id)?.clone();
    let Some(interval) = new.recurring_interval else {
        return Err(SimError::invalid(
            "product_id",
            "the product is not recurring",
        ));
    };
    if new.is_archived {
        return Err(SimError::invalid("product_id", "the product is archived"));
    }
    if product_id == sub.product_id {
        return Err(SimError::invalid(
            "product_id",
            "the subscription is already on this product",
        ));
    }
    let old = st.product(sub.product_id)?.clone();
    let now = st.clock.now();

    if proration == Proration::NextPeriod {
        let stamp = st.clock.stamp();
        modify(st, id, |s, _| {
            s.pending_update = Some(PendingUpdate {
                id: Uuid::new_v4(),
                created_at: stamp,
                applies_at: s.current_period_end,
                product_id,
                seats: None,
            });
        })?;
        return emit_sub(st, em, id, &["subscription.updated"]);
    }

    let trialing = sub.status == SubscriptionStatus::Trialing;
    let total = (sub.current_period_end - sub.current_period_start)
        .num_milliseconds()
        .max(1);
    let left = (sub.current_period_end - now)
        .num_milliseconds()
        .clamp(0, total);
    let share = |amount: i64| -> i64 {
        i64::try_from(i128::from(amount) * i128::from(left) / i128::from(total)).unwrap_or(0)
    };
    modify(st, id, |s, now| {
        s.product_id = product_id;
        s.seats = new.price.seats.and(s.seats.or(new.price.default_seats()));
        s.amount = new.price.total(s.seats);
        s.interval = interval;
        s.pending_update = None;
        if proration == Proration::Reset && !trialing {
            s.current_period_start = now;
            s.current_period_end = interval.after(now, 1);
            if s.cancel_at_period_end {
                s.ends_at = Some(s.current_period_end);
            }
        }
    })?;
    emit_sub(st, em, id, &["subscription.updated"])?;

    let unused_old = (
        format!("Unused time on {}", old.name),
        -share(old.price.amount),
        true,
    );
    let items = match proration {
        _ if trialing => Vec::new(),
        Proration::Prorate => {
            // Polar bills the difference with the next renewal: the rest of the period on the
            // new product, less the unused rest of it on the old one.
            st.pending_prorations.entry(id).or_default().extend([
                (
                    format!("Remaining time on {}", new.name),
                    share(new.price.amount),
                    true,
                ),
                unused_old,
            ]);
            Vec::new()
        }
        Proration::Invoice => {
            let due = share(new.price.amount) - share(old.price.amount);
            if due > 0 {
                vec![(format!("Remaining time on {}", new.name), due, true)]
            } else {
                Vec::new()
            }
        }
        Proration::Reset => vec![(new.name.clone(), new.price.amount, false), unused_old],
        Proration::NextPeriod => Vec::new(),
    };
    if !items.is_empty() {
        billing::create_order(
            st,
            em,
            OrderSpec {
                customer_id: sub.customer_id,
                product_id,
                subscription_id: Some(id),
                checkout_id: None,
                billing_reason: BillingReason::SubscriptionUpdate,
                items,
                next_payment_attempt_at: None,
            },
            true,
        )?;
    }
    billing::revoke_benefits(st, em, id, false)?;
    billing::grant_benefits(st, em, id)
}

/// The subscription reaches its period end: it ends if a cancellation was scheduled, otherwise
/// it renews (a trial converts) and the renewal order is paid or fails.
pub fn cycle(st: &mut State, em: &mut Emitter, id: Uuid, payment: Payment) -> Result<(), SimError> {
    let sub = st.subscription(id)?.clone();
    match sub.status {
        SubscriptionStatus::Active | SubscriptionStatus::Trialing => {}
        SubscriptionStatus::PastDue => {
            return Err(SimError::conflict(
                "past_due",
                "the subscription is past_due: recover or revoke it first",
            ));
        }
        _ => {
            return Err(SimError::conflict(
                "InactiveSubscription",
                "This subscription is not active.",
            ));
        }
    }
    if sub.cancel_at_period_end {
        modify(st, id, |s, _| {
            s.status = SubscriptionStatus::Canceled;
            s.ended_at = Some(s.current_period_end);
            s.ends_at = Some(s.current_period_end);
        })?;
        emit_sub(
            st,
            em,
            id,
            &["subscription.updated", "subscription.revoked"],
        )?;
        return billing::revoke_benefits(st, em, id, true);
    }

    let pending = sub.pending_update.clone();
    let product_id = pending.as_ref().map_or(sub.product_id, |u| u.product_id);
    let product = st.product(product_id)?.clone();
    modify(st, id, |s, _| {
        if let Some(u) = &pending {
            s.product_id = u.product_id;
            s.seats = u.seats.or(s.seats);
            s.amount = product.price.total(s.seats);
            if let Some(i) = product.recurring_interval {
                s.interval = i;
            }
            s.pending_update = None;
        }
        s.status = SubscriptionStatus::Active;
        s.current_period_start = s.current_period_end;
        s.current_period_end = s.interval.after(s.current_period_start, 1);
    })?;
    emit_sub(st, em, id, &["subscription.cycled", "subscription.updated"])?;
    let seats = st.subscription(id)?.seats;
    // A failed charge is known by the time Polar announces the order, with its retry date:
    // the order's `order.created` and the API show the same order.
    let retry =
        (payment == Payment::Fails).then(|| st.clock.now() + Duration::days(FIRST_RETRY_DAYS));
    let prorations = st.pending_prorations.remove(&id).unwrap_or_default();
    let charged = super::discounts::charge(st, id, product.price.total(seats))?;
    billing::create_order(
        st,
        em,
        OrderSpec {
            customer_id: sub.customer_id,
            product_id,
            subscription_id: Some(id),
            checkout_id: None,
            billing_reason: BillingReason::SubscriptionCycle,
            items: std::iter::once((product.name.clone(), charged, false))
                .chain(prorations)
                .collect(),
            next_payment_attempt_at: retry,
        },
        payment == Payment::Succeeds,
    )?;
    if payment == Payment::Fails {
        modify(st, id, |s, now| {
            s.status = SubscriptionStatus::PastDue;
            s.past_due_at = Some(now);
        })?;
        emit_sub(
            st,
            em,
            id,
            &["subscription.updated", "subscription.past_due"],
        )?;
    }
    if pending.is_some() {
        billing::revoke_benefits(st, em, id, false)?;
        billing::grant_benefits(st, em, id)?;
    }
    Ok(())
}

/// A past-due subscription's payment goes through.
pub fn recover(st: &mut State, em: &mut Emitter, id: Uuid) -> Result<(), SimError> {
    if st.subscription(id)?.status != SubscriptionStatus::PastDue {
        return Err(SimError::conflict(
            "not_past_due",
            "the subscription is not past_due",
        ));
    }
    let unpaid: Option<Uuid> = st
        .orders
        .values()
        .filter(|o| o.subscription_id == Some(id) && o.status == OrderStatus::Pending)
        .max_by_key(|o| o.created_at)
        .map(|o| o.id);
    if let Some(order) = unpaid {
        billing::pay_order(st, em, order)?;
    }
    modify(st, id, |s, _| {
        s.status = SubscriptionStatus::Active;
        s.past_due_at = None;
    })?;
    emit_sub(st, em, id, &["subscription.updated", "subscription.active"])
}

/// Moves the clock to `to`, renewing or ending every subscription whose period ends on the way
/// (each at its own period end, in time order) and expiring checkouts.
pub fn advance_clock(
    st: &mut State,
    em: &mut Emitter,
    to: DateTime<Utc>,
) -> Result<usize, SimError> {
    if to < st.clock.now() {
        return Err(SimError::invalid("to", "the clock cannot go backwards"));
    }
    // A bound so that a mistaken target (a daily plan a century ahead) fails instead of hanging.
    const MAX_CYCLES: usize = 100_000;
    let mut cycles = 0;
    loop {
        let next = st
            .subscriptions
            .values()
            .filter(|s| s.status.is_active() && s.current_period_end <= to)
            .min_by_key(|s| (s.current_period_end, s.created_at))
            .map(|s| (s.id, s.current_period_end));
        let Some((id, at)) = next else { break };
        if cycles >= MAX_CYCLES {
            return Err(SimError::invalid(
                "to",
                "too many renewals on the way; advance in smaller steps",
            ));
        }
        if at > st.clock.now() {
            st.clock.set(at);
        }
        cycle(st, em, id, Payment::Succeeds)?;
        cycles += 1;
    }
    st.clock.set(to);
    super::checkouts::expire_checkouts(st, em)?;
    Ok(cycles)
}

/// A direct change of a subscription's facts with no webhook: drift between Polar and its
/// consumers, as after lost deliveries or changes made in Polar's dashboard.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Drift {
    pub status: Option<SubscriptionStatus>,
    pub product_id: Option<Uuid>,
    pub cancel_at_period_end: Option<bool>,
    pub current_period_end: Option<DateTime<Utc>>,
}

pub fn drift(st: &mut State, id: Uuid, drift: Drift) -> Result<(), SimError> {
    let product = match drift.product_id {
        Some(p) => Some(st.product(p)?.clone()),
        None => None,
    };
    modify(st, id, |s, now| {
        if let Some(status) = drift.status {
            s.status = status;
            if status.is_revoked() && s.ended_at.is_none() {
                s.ended_at = Some(now);
                s.ends_at = Some(now);
            }
            if status == SubscriptionStatus::PastDue && s.past_due_at.is_none() {
                s.past_due_at = Some(now);
            }
        }
        if let Some(p) = product {
            s.product_id = p.id;
            s.amount = p.price.amount;
        }
        if let Some(cancel) = drift.cancel_at_period_end {
            s.cancel_at_period_end = cancel;
            s.canceled_at = cancel.then_some(now);
            s.ends_at = cancel.then_some(s.current_period_end);
        }
        if let Some(end) = drift.current_period_end {
            s.current_period_end = end;
        }
    })
}
