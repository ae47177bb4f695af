//! Usage events as apps send them, and the refusals of invalid ones.
//!
//! Each event of a batch is judged on its own: an invalid event becomes a [`Rejection`] naming
//! its index, a stable code and the problem, and the valid events of the batch are kept.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tollgate_gate::{Catalog, FeatureType, Timestamp};

/// Most events one batch may carry.
pub(crate) const MAX_BATCH: usize = 10_000;
/// Longest event id and customer id accepted.
pub(crate) const MAX_ID_LEN: usize = 255;
/// How far ahead of the server's clock a timestamp may be (clocks drift).
pub(crate) const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// Reads the body of `POST /v1/usage`, `{"events": [...]}`, into its events (each judged on
/// its own later). Read as a JSON object on purpose: a derived struct would also take the
/// array `[[...]]`, which is not the documented body.
pub(crate) fn read_batch(body: &[u8]) -> Result<Vec<Value>, serde_json::Error> {
    let mut body: Map<String, Value> = serde_json::from_slice(body)?;
    match body.remove("events") {
        Some(Value::Array(events)) => Ok(events),
        Some(_) => Err(serde::de::Error::custom("`events` must be an array")),
        None => Err(serde::de::Error::missing_field("events")),
    }
}

/// An event exactly as sent; every field is checked before it is trusted.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireEvent {
    pub(crate) id: Option<Value>,
    pub(crate) customer: Option<Value>,
    pub(crate) feature: Option<Value>,
    pub(crate) amount: Option<Value>,
    pub(crate) timestamp: Option<Value>,
    pub(crate) properties: Option<Value>,
}

/// A valid event.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEvent {
    pub id: String,
    pub customer: String,
    pub feature: String,
    pub amount: u64,
    pub timestamp: DateTime<Utc>,
    pub properties: Option<Map<String, Value>>,
}

/// Why an event was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RejectCode {
    /// A field is missing or has the wrong type.
    InvalidEvent,
    /// `amount` is not a whole number from 1 to 2^63 − 1.
    InvalidAmount,
    /// The catalog has no such feature.
    UnknownFeature,
    /// The feature is a gauge or a boolean: it is not counted.
    NotMetered,
    /// `timestamp` is ahead of the server's clock by more than the allowed skew.
    TimestampInFuture,
    /// `timestamp` is before the start of the feature's current period.
    TimestampBeforePeriod,
}

impl RejectCode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEvent => "invalid_event",
            Self::InvalidAmount => "invalid_amount",
            Self::UnknownFeature => "unknown_feature",
            Self::NotMetered => "not_metered",
            Self::TimestampInFuture => "timestamp_in_future",
            Self::TimestampBeforePeriod => "timestamp_before_period",
        }
    }
}

/// One refused event of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = UsageRejection)]
pub struct Rejection {
    pub(crate) index: usize,
    pub(crate) code: RejectCode,
    pub(crate) message: String,
}

impl Rejection {
    pub(crate) fn new(index: usize, code: RejectCode, message: impl Into<String>) -> Self {
        Self {
            index,
            code,
            message: message.into(),
        }
    }
}

/// Checks the fields of event `index` that need no database: shape, amount, feature, and a
/// timestamp not in the future.
pub(crate) fn validate(
    index: usize,
    raw: &Value,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<UsageEvent, Rejection> {
    let invalid = |message: String| Rejection::new(index, RejectCode::InvalidEvent, message);
    let wire = WireEvent::deserialize(raw)
        .map_err(|_| invalid(format!("event {index} is not a JSON object")))?;
    let id = text(index, "id", wire.id.as_ref())?;
    let customer = text(index, "customer", wire.customer.as_ref())?;
    let feature = match wire.feature.as_ref() {
        Some(Value::String(feature)) if !feature.is_empty() => feature.clone(),
        _ => {
            return Err(invalid(format!(
                "event {index}: `feature` must be a string"
            )));
        }
    };
    let amount = match wire.amount.as_ref() {
        None => 1,
        Some(value) => value
            .as_u64()
            .filter(|n| (1..=i64::MAX as u64).contains(n))
            .ok_or_else(|| {
                Rejection::new(
                    index,
                    RejectCode::InvalidAmount,
                    format!(
                        "event {index}: `amount` must be a whole number from 1 to 9223372036854775807, not {value}"
                    ),
                )
            })?,
    };
    let timestamp = match wire.timestamp.as_ref() {
        Some(Value::String(text)) => Timestamp::parse(text)
            .ok()
            .and_then(|t| DateTime::from_timestamp_millis(t.as_millis()))
            .ok_or_else(|| {
                invalid(format!(
                    "event {index}: `timestamp` `{text}` is not an RFC 3339 instant such as 2026-11-25T10:00:00.000Z"
                ))
            })?,
        _ => {
            return Err(invalid(format!(
                "event {index}: `timestamp` must be an RFC 3339 string"
            )));
        }
    };
    let properties = match wire.properties {
        None | Some(Value::Null) => None,
        Some(Value::Object(map))
            if map.iter().all(|(key, value)| {
                crate::text::storable(key) && crate::text::storable_json(value)
            }) =>
        {
            Some(map)
        }
        Some(_) => {
            return Err(invalid(format!(
                "event {index}: `properties` must be an object without U+0000 in its strings"
            )));
        }
    };
    match catalog.feature(&feature).map(|f| f.kind) {
        None => {
            return Err(Rejection::new(
                index,
                RejectCode::UnknownFeature,
                format!("event {index}: the catalog has no feature `{feature}`"),
            ));
        }
        Some(FeatureType::Metered) => {}
        Some(_) => {
            return Err(Rejection::new(
                index,
                RejectCode::NotMetered,
                format!("event {index}: feature `{feature}` is not metered, so it is not counted"),
            ));
        }
    }
    if timestamp > now + CLOCK_SKEW {
        return Err(Rejection::new(
            index,
            RejectCode::TimestampInFuture,
            format!(
                "event {index}: `timestamp` {} is in the future (server time {})",
                timestamp.to_rfc3339(),
                now.to_rfc3339()
            ),
        ));
    }
    Ok(UsageEvent {
        id,
        customer,
        feature,
        amount,
        timestamp,
        properties,
    })
}

fn text(index: usize, field: &str, value: Option<&Value>) -> Result<String, Rejection> {
    match value {
        Some(Value::String(text))
            if !text.trim().is_empty()
                && text.len() <= MAX_ID_LEN
                && crate::text::storable(text) =>
        {
            Ok(text.clone())
        }
        _ => Err(Rejection::new(
            index,
            RejectCode::InvalidEvent,
            format!(
                "event {index}: `{field}` must be a non-empty string of at most {MAX_ID_LEN} bytes, without U+0000"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `usage_batch` fuzz target: `[[...]]` was read as a batch.
    #[test]
    fn a_batch_is_an_object_with_an_events_array_only() {
        assert_eq!(read_batch(br#"{"events": [1, {}]}"#).unwrap().len(), 2);
        for body in [&b"[[]]"[..], b"[[{}]]", b"{}", br#"{"events": {}}"#, b"[]"] {
            assert!(
                read_batch(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
