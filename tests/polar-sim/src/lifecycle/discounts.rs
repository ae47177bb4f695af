//! Discounts on subscriptions: applied as Polar's `PATCH /v1/subscriptions/{id}` with a
//! `discount_id` does, from the next invoice on.

use chrono::Months;
use uuid::Uuid;

use super::Emitter;
use super::subscriptions::{emit_sub, modify};
use crate::error::SimError;
use crate::model::{Discount, DiscountDuration, DiscountOff};
use crate::store::State;

/// What a scenario asks for.
#[derive(Debug, Clone)]
pub struct NewDiscount {
    pub off: DiscountOff,
    pub duration: DiscountDuration,
    pub duration_in_months: Option<u32>,
}

/// Puts a discount on an active or trialing subscription; `subscription.updated` follows.
pub fn apply(st: &mut State, em: &mut Emitter, id: Uuid, new: NewDiscount) -> Result<(), SimError> {
    if !st.subscription(id)?.status.is_active() {
        return Err(SimError::conflict(
            "InactiveSubscription",
            "This subscription is not active.",
        ));
    }
    if new.duration == DiscountDuration::Repeating && new.duration_in_months.is_none_or(|m| m == 0)
    {
        return Err(SimError::invalid(
            "duration_in_months",
            "a repeating discount needs duration_in_months of 1 or more",
        ));
    }
    match new.off {
        DiscountOff::Percentage { basis_points } if basis_points == 0 || basis_points > 10_000 => {
            return Err(SimError::invalid(
                "basis_points",
                "basis_points must be between 1 and 10000",
            ));
        }
        DiscountOff::Fixed { amount } if amount <= 0 => {
            return Err(SimError::invalid("amount", "amount must be above 0"));
        }
        _ => {}
    }
    let name = match new.off {
        DiscountOff::Percentage { basis_points } => format!("{} % off", basis_points / 100),
        DiscountOff::Fixed { amount } => format!("{amount} off"),
    };
    let created_at = st.clock.now();
    modify(st, id, |s, _| {
        s.discount = Some(Discount {
            id: Uuid::new_v4(),
            created_at,
            name,
            off: new.off,
            duration: new.duration,
            duration_in_months: new.duration_in_months,
            invoices: 0,
        });
    })?;
    emit_sub(st, em, id, &["subscription.updated"])
}

/// The amount a renewal of subscription `id` charges for `amount`, after its discount if that
/// still applies now; counts the invoice against a `once` discount.
pub fn charge(st: &mut State, id: Uuid, amount: i64) -> Result<i64, SimError> {
    let now = st.clock.now();
    let sub = st.subscription_mut(id)?;
    let Some(discount) = sub.discount.as_mut() else {
        return Ok(amount);
    };
    let applies = match discount.duration {
        DiscountDuration::Forever => true,
        DiscountDuration::Once => discount.invoices == 0,
        DiscountDuration::Repeating => discount
            .created_at
            .checked_add_months(Months::new(discount.duration_in_months.unwrap_or(0)))
            .is_some_and(|until| now < until),
    };
    if !applies {
        return Ok(amount);
    }
    discount.invoices += 1;
    Ok(amount - off(discount.off, amount))
}

/// What `off` takes from `amount`, never more than all of it.
pub fn off(off: DiscountOff, amount: i64) -> i64 {
    match off {
        DiscountOff::Percentage { basis_points } => amount * i64::from(basis_points) / 10_000,
        DiscountOff::Fixed { amount: fixed } => fixed.min(amount),
    }
}
