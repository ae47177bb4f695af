//! Usage events (`POST /v1/events/ingest`) and the customer meters they feed.
//!
//! Ingestion is all-or-nothing: one invalid event refuses the batch. An event whose
//! `external_id` was seen before (in this batch or earlier) is skipped and counted as a
//! duplicate, as Polar does per organization.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::Emitter;
use crate::error::SimError;
use crate::model::{CustomerMeter, UsageEvent};
use crate::store::State;

#[derive(Debug, Clone, Deserialize)]
pub struct NewEvent {
    pub name: String,
    pub timestamp: Option<DateTime<Utc>>,
    pub customer_id: Option<Uuid>,
    pub external_customer_id: Option<String>,
    pub external_id: Option<String>,
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ingested {
    pub inserted: u64,
    pub duplicates: u64,
}

const MAX_NAME_LEN: usize = 128;

pub fn ingest(
    st: &mut State,
    em: &mut Emitter,
    events: Vec<NewEvent>,
) -> Result<Ingested, SimError> {
    // Clients stamp events with their own clock; accept anything up to the later of the
    // simulated and the real now.
    let latest = st.clock.now().max(Utc::now());
    for (i, e) in events.iter().enumerate() {
        if e.name.is_empty() || e.name.chars().count() > MAX_NAME_LEN {
            return Err(SimError::invalid(
                format!("events.{i}.name"),
                "String should have between 1 and 128 characters",
            ));
        }
        if e.timestamp.is_some_and(|t| t > latest) {
            return Err(SimError::invalid(
                format!("events.{i}.timestamp"),
                "Timestamp must be in the past.",
            ));
        }
        match (e.customer_id, &e.external_customer_id) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(SimError::invalid(
                    format!("events.{i}"),
                    "exactly one of customer_id and external_customer_id is required",
                ));
            }
            (Some(id), None) if st.customer(id).is_err() => {
                return Err(SimError::invalid(
                    format!("events.{i}.customer_id"),
                    "Customer does not exist.",
                ));
            }
            _ => {}
        }
    }
    let mut outcome = Ingested {
        inserted: 0,
        duplicates: 0,
    };
    for e in events {
        if let Some(key) = &e.external_id
            && !st.usage_external_ids.insert(key.clone())
        {
            outcome.duplicates += 1;
            continue;
        }
        outcome.inserted += 1;
        let customer = e.customer_id.or_else(|| {
            e.external_customer_id
                .as_deref()
                .and_then(|x| st.customer_by_external_id(x))
                .map(|c| c.id)
        });
        if let Some(customer_id) = customer {
            count(st, em, customer_id, &e.name);
        }
        st.usage_events.push(UsageEvent {
            name: e.name,
            customer_id: e.customer_id,
            external_customer_id: e.external_customer_id,
        });
    }
    Ok(outcome)
}

/// Adds one unit to every meter of `event_name` for the customer.
fn count(st: &mut State, em: &mut Emitter, customer_id: Uuid, event_name: &str) {
    let meters: Vec<Uuid> = st
        .meters
        .values()
        .filter(|m| m.event_name == event_name)
        .map(|m| m.id)
        .collect();
    for meter_id in meters {
        let stamp = st.clock.stamp();
        let existing = st
            .customer_meters
            .values_mut()
            .find(|cm| cm.customer_id == customer_id && cm.meter_id == meter_id);
        match existing {
            Some(cm) => {
                cm.consumed_units += 1;
                cm.modified_at = stamp;
            }
            None => {
                let cm = CustomerMeter {
                    id: Uuid::new_v4(),
                    created_at: stamp,
                    modified_at: stamp,
                    customer_id,
                    meter_id,
                    consumed_units: 1,
                };
                st.customer_meters.insert(cm.id, cm);
            }
        }
        em.touch(customer_id);
    }
}
