//! Seat changes on a seat-based subscription (`PATCH /v1/subscriptions/{id}` with `seats` or
//! `units`).
//!
//! The new seat count is billed like a product change: `invoice` charges the prorated
//! difference now (a decrease charges nothing), `prorate` leaves it to the next invoice,
//! `next_period` schedules the change as a `pending_update` applied at the renewal, and `reset`
//! starts a new period at the new price less the unused time. Webhooks: `subscription.updated`,
//! then the proration order, if any.

use uuid::Uuid;

use super::Emitter;
use super::billing::{self, OrderSpec};
use super::subscriptions::{Proration, seats_for};
use crate::error::SimError;
use crate::model::{BillingReason, PendingUpdate};
use crate::render;
use crate::store::State;

pub fn update_seats(
    st: &mut State,
    em: &mut Emitter,
    id: Uuid,
    seats: u32,
    proration: Proration,
) -> Result<(), SimError> {
    let sub = st.subscription(id)?.clone();
    if !sub.status.is_active() {
        return Err(SimError::conflict(
            "InactiveSubscription",
            "This subscription is not active.",
        ));
    }
    let product = st.product(sub.product_id)?.clone();
    if product.price.seats.is_none() {
        return Err(SimError::invalid(
            "seats",
            "the subscription's product is not seat-based",
        ));
    }
    seats_for(&product.price, Some(seats))?;
    if sub.seats == Some(seats) {
        return Err(SimError::invalid(
            "seats",
            format!("the subscription already has {seats} seats"),
        ));
    }
    let now = st.clock.now();
    let stamp = st.clock.stamp();
    let new_amount = product.price.total(Some(seats));
    let total = (sub.current_period_end - sub.current_period_start)
        .num_milliseconds()
        .max(1);
    let left = (sub.current_period_end - now)
        .num_milliseconds()
        .clamp(0, total);
    let share = |amount: i64| -> i64 {
        i64::try_from(i128::from(amount) * i128::from(left) / i128::from(total)).unwrap_or(0)
    };
    let trialing = sub.status == crate::model::SubscriptionStatus::Trialing;
    {
        let s = st.subscription_mut(id)?;
        if proration == Proration::NextPeriod {
            s.pending_update = Some(PendingUpdate {
                id: Uuid::new_v4(),
                created_at: stamp,
                applies_at: s.current_period_end,
                product_id: s.product_id,
                seats: Some(seats),
            });
        } else {
            s.seats = Some(seats);
            s.amount = new_amount;
            s.pending_update = None;
            if proration == Proration::Reset && !trialing {
                s.current_period_start = now;
                s.current_period_end = s.interval.after(now, 1);
                if s.cancel_at_period_end {
                    s.ends_at = Some(s.current_period_end);
                }
            }
        }
        s.modified_at = stamp;
    }
    em.emit(st, "subscription.updated", |st| {
        st.subscriptions
            .get(&id)
            .map_or(serde_json::Value::Null, |s| render::subscription(st, s))
    });
    em.touch(sub.customer_id);

    let label = format!("{} ({seats} seats)", product.name);
    let items = match proration {
        _ if trialing => Vec::new(),
        Proration::Invoice => {
            let due = share(new_amount) - share(sub.amount);
            if due > 0 {
                vec![(format!("Remaining time on {label}"), due, true)]
            } else {
                Vec::new()
            }
        }
        Proration::Reset => vec![
            (label, new_amount, false),
            (
                format!("Unused time on {}", product.name),
                -share(sub.amount),
                true,
            ),
        ],
        Proration::Prorate | Proration::NextPeriod => Vec::new(),
    };
    if !items.is_empty() {
        billing::create_order(
            st,
            em,
            OrderSpec {
                customer_id: sub.customer_id,
                product_id: sub.product_id,
                subscription_id: Some(id),
                checkout_id: None,
                billing_reason: BillingReason::SubscriptionUpdate,
                items,
                next_payment_attempt_at: None,
            },
            true,
        )?;
    }
    Ok(())
}
