//! Instants and the calendar arithmetic the rules need.
//!
//! The engine never reads a clock: every instant is an argument. An instant is a whole number of
//! milliseconds since the Unix epoch (UTC) — the precision JavaScript's `Date` has — so native,
//! wasm and Worker answers agree to the letter. Instants from Polar (microseconds) are truncated.

use std::fmt;

use chrono::{DateTime, Datelike, Months, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

pub(crate) const DAY_MS: i64 = 86_400_000;

/// An instant, in milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// An instant that is not RFC 3339 or out of the supported range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 instant such as 2026-10-01T00:00:00Z")]
pub struct TimeError(pub String);

impl Timestamp {
    /// The latest representable instant: "no end".
    pub const MAX: Timestamp = Timestamp(i64::MAX);
    /// The earliest representable instant: "never".
    pub const MIN: Timestamp = Timestamp(i64::MIN);

    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Reads an RFC 3339 instant (`2026-09-14T09:14:21.655902Z`, any offset).
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| Timestamp(t.timestamp_millis()))
            .map_err(|_| TimeError(text.to_owned()))
    }

    /// ISO-8601 with exactly three fractional digits, as `Date.prototype.toISOString` writes.
    pub fn to_iso(self) -> String {
        match self.to_datetime() {
            Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => self.0.to_string(),
        }
    }

    pub(crate) fn to_datetime(self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.0)
    }

    pub(crate) const fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    pub(crate) const fn plus_days(self, days: i64) -> Self {
        self.plus_millis(days.saturating_mul(DAY_MS))
    }

    pub(crate) const fn plus_hours(self, hours: i64) -> Self {
        self.plus_millis(hours.saturating_mul(3_600_000))
    }

    /// 00:00 UTC of this instant's day (the earliest instant for days before it).
    pub(crate) fn day_start(self) -> Self {
        Timestamp(self.0.div_euclid(DAY_MS).saturating_mul(DAY_MS))
    }

    /// The first instant of this instant's UTC calendar month.
    pub(crate) fn month_start(self) -> Self {
        self.to_datetime()
            .and_then(|t| NaiveDate::from_ymd_opt(t.year(), t.month(), 1))
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(self, |d| Timestamp(d.and_utc().timestamp_millis()))
    }

    /// This instant plus whole calendar months. Months are added to the day of this instant and
    /// clamped to the month's length (Jan 31 + 1 month = Feb 28), as billing anchors do.
    pub(crate) fn plus_months(self, months: u32) -> Self {
        self.to_datetime()
            .and_then(|t| t.checked_add_months(Months::new(months)))
            .map_or(Timestamp::MAX, |t| Timestamp(t.timestamp_millis()))
    }

    /// Whole calendar months from `self` to `later`, by year and month only.
    pub(crate) fn months_until(self, later: Timestamp) -> i64 {
        match (self.to_datetime(), later.to_datetime()) {
            (Some(a), Some(b)) => {
                i64::from(b.year() - a.year()) * 12 + i64::from(b.month()) - i64::from(a.month())
            }
            _ => 0,
        }
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Timestamp(t.timestamp_millis())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_iso())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    /// Accepts an RFC 3339 string or a number of epoch milliseconds.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 instant or epoch milliseconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("instant out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                if v.is_finite() && v.abs() < 9.0e15 {
                    #[expect(clippy::cast_possible_truncation, reason = "range checked above")]
                    Ok(Timestamp(v.floor() as i64))
                } else {
                    Err(E::custom("instant out of range"))
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    /// Found by the `engine_snapshot` fuzz target: a check at `Timestamp::MIN` overflowed
    /// (a panic with overflow checks, a wrapped, far-future day otherwise).
    #[test]
    fn day_start_of_the_earliest_instant_does_not_overflow() {
        assert_eq!(Timestamp::MIN.day_start(), Timestamp::MIN);
        assert_eq!(Timestamp::MAX.day_start().as_millis() % DAY_MS, 0);
        assert!(Timestamp::MAX.day_start() <= Timestamp::MAX);
    }

    #[test]
    fn parses_polar_microseconds_and_prints_milliseconds() {
        let t = at("2026-09-14T09:14:21.655902Z");
        assert_eq!(t.to_iso(), "2026-09-14T09:14:21.655Z");
        assert_eq!(
            at("2026-09-14T11:14:21+02:00").to_iso(),
            "2026-09-14T09:14:21.000Z"
        );
    }

    #[test]
    fn calendar_boundaries() {
        let t = at("2026-02-14T13:00:00Z");
        assert_eq!(t.day_start(), at("2026-02-14T00:00:00Z"));
        assert_eq!(t.month_start(), at("2026-02-01T00:00:00Z"));
        assert_eq!(
            at("2026-01-31T10:00:00Z").plus_months(1),
            at("2026-02-28T10:00:00Z")
        );
        assert_eq!(
            at("2026-01-31T10:00:00Z").plus_months(2),
            at("2026-03-31T10:00:00Z")
        );
        assert_eq!(
            at("2025-11-30T00:00:00Z").months_until(at("2026-02-01T00:00:00Z")),
            3
        );
    }

    #[test]
    fn rejects_what_is_not_an_instant() {
        assert!(Timestamp::parse("yesterday").is_err());
        let err: Result<Timestamp, _> = serde_json::from_str("\"2026-13-01\"");
        assert!(err.is_err());
        let ms: Timestamp = serde_json::from_str("1700000000000").unwrap();
        assert_eq!(ms.as_millis(), 1_700_000_000_000);
    }
}
