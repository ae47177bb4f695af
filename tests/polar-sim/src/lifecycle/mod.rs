//! What happens in Polar when something happens to a customer: the state changes and the
//! webhooks Polar would send, in Polar's order.
//!
//! Each operation takes the state and an [`Emitter`]. The emitter renders each event's `data`
//! at the moment of the change (a snapshot, like Polar's stored payloads) and stamps it with the
//! simulated clock. `customer.state_changed` is debounced per customer in Polar; here it is sent
//! once per operation for each customer the operation touched, after everything else. A silent
//! emitter (drift injection) changes the same state and sends nothing.

pub mod billing;
pub mod catalog;
pub mod checkouts;
pub mod customers;
pub mod discounts;
pub mod seats;
pub mod subscriptions;
pub mod usage;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::render;
use crate::store::State;

/// One webhook event as Polar would create it.
#[derive(Debug, Clone)]
pub struct Emitted {
    pub event_type: String,
    pub timestamp: DateTime<Utc>,
    pub data: Value,
}

/// Collects the events of one operation.
#[derive(Debug, Default)]
pub struct Emitter {
    silent: bool,
    events: Vec<Emitted>,
    touched: Vec<Uuid>,
}

impl Emitter {
    /// An emitter that records events.
    pub fn new() -> Self {
        Self::default()
    }

    /// An emitter that records nothing: the change happens without any webhook.
    pub fn silent() -> Self {
        Self {
            silent: true,
            ..Self::default()
        }
    }

    /// Records `event_type`, stamped now, with `data` rendered from the state as it is now.
    /// A silent emitter renders nothing.
    pub fn emit(&mut self, st: &mut State, event_type: &str, data: impl FnOnce(&State) -> Value) {
        self.emit_all(st, &[event_type], data);
    }

    /// Records several events that carry the same snapshot (e.g. `subscription.updated` and
    /// `subscription.canceled`).
    pub fn emit_all(
        &mut self,
        st: &mut State,
        event_types: &[&str],
        data: impl FnOnce(&State) -> Value,
    ) {
        if self.silent {
            return;
        }
        let data = data(st);
        for t in event_types {
            let timestamp = st.clock.stamp();
            self.events.push(Emitted {
                event_type: (*t).to_owned(),
                timestamp,
                data: data.clone(),
            });
        }
    }

    /// Marks a customer whose state changed.
    pub fn touch(&mut self, customer_id: Uuid) {
        if !self.silent && !self.touched.contains(&customer_id) {
            self.touched.push(customer_id);
        }
    }

    /// Appends `customer.state_changed` for each touched customer and returns the events.
    pub fn finish(mut self, st: &mut State) -> Vec<Emitted> {
        for id in std::mem::take(&mut self.touched) {
            if st.customers.contains_key(&id) {
                self.emit(st, "customer.state_changed", |st| {
                    st.customers
                        .get(&id)
                        .map_or(Value::Null, |c| render::customer_state(st, c))
                });
            }
        }
        self.events
    }
}
