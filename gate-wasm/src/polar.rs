//! The parts of Polar's objects the rules read, exactly as Polar sends them.
//!
//! Polar adds fields often and documents nullable ones loosely, so everything here ignores
//! unknown fields, tolerates `null` where it can, and keeps unknown enum values instead of
//! failing: a new Polar status must not take a customer's access down.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// A Polar `Subscription` (webhook `data`, `GET /v1/subscriptions`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub status: SubscriptionStatus,
    pub current_period_start: Timestamp,
    /// Polar always sends it; older objects may carry `null`.
    #[serde(default)]
    pub current_period_end: Option<Timestamp>,
    #[serde(default)]
    pub recurring_interval: Interval,
    #[serde(default = "one", deserialize_with = "count_or_one")]
    pub recurring_interval_count: u32,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default)]
    pub canceled_at: Option<Timestamp>,
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub modified_at: Option<Timestamp>,
    pub product_id: String,
    #[serde(default)]
    pub product: Option<Product>,
    /// The seats of a seat-based subscription, `null` otherwise (Polar's newer name).
    #[serde(default)]
    pub units: Option<u64>,
    /// The older name of `units`, still sent beside it.
    #[serde(default)]
    pub seats: Option<u64>,
}

impl Subscription {
    /// The seats bought: `units`, else the older `seats`; `None` when not seat-based.
    pub fn seat_count(&self) -> Option<u64> {
        self.units.or(self.seats)
    }
}

/// The `Product` nested in a subscription: what selects a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Flat map of string, number or boolean values.
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl Product {
    /// A metadata value as text, so `2` and `"2"` compare equal.
    pub(crate) fn metadata_text(&self, key: &str) -> Option<String> {
        match self.metadata.get(key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// Polar's `SubscriptionStatus`, with a home for values added later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
    #[serde(other)]
    Unknown,
}

/// A subscription's billing interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Day,
    Week,
    #[default]
    Month,
    Year,
    #[serde(other)]
    Unknown,
}

fn one() -> u32 {
    1
}

fn count_or_one<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(Option::<u32>::deserialize(d)?
        .filter(|n| *n > 0)
        .unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_subscription_fixture() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/polar");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("webhook.subscription.") {
                continue;
            }
            let body: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let sub: Subscription = serde_json::from_value(body["data"].clone()).unwrap();
            assert_eq!(
                sub.product.unwrap().metadata_text("plan").as_deref(),
                Some("pro"),
                "{name}"
            );
            seen += 1;
        }
        assert!(seen >= 6);
    }

    #[test]
    fn tolerates_new_statuses_and_null_counts() {
        let sub: Subscription = serde_json::from_str(
            r#"{"id":"s","status":"frozen","current_period_start":"2026-01-01T00:00:00Z",
                "current_period_end":null,"recurring_interval":"fortnight",
                "recurring_interval_count":null,"product_id":"p","extra":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(sub.status, SubscriptionStatus::Unknown);
        assert_eq!(sub.recurring_interval, Interval::Unknown);
        assert_eq!(sub.recurring_interval_count, 1);
        assert_eq!(sub.seat_count(), None);
    }

    #[test]
    fn reads_units_and_falls_back_to_seats() {
        let read = |extra: &str| {
            let json = format!(
                r#"{{"id":"s","status":"active","current_period_start":"2026-01-01T00:00:00Z",
                    "product_id":"p"{extra}}}"#
            );
            serde_json::from_str::<Subscription>(&json)
                .unwrap()
                .seat_count()
        };
        assert_eq!(read(r#","units":4,"seats":4"#), Some(4));
        assert_eq!(read(r#","units":null,"seats":3"#), Some(3));
        assert_eq!(read(r#","seats":2"#), Some(2));
        assert_eq!(read(r#","units":5"#), Some(5));
        assert_eq!(read(r#","units":null,"seats":null"#), None);
    }
}
