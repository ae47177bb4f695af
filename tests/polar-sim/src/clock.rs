//! The simulated clock.
//!
//! Time in the simulator only moves when told to (`set`/`advance`), so period ends, renewals and
//! trial ends are deterministic. Every change to an object is stamped with [`SimClock::stamp`],
//! which never returns the same instant twice: `modified_at` strictly increases across changes
//! even while the clock stands still, so consumers can order snapshots by it. Stamps step by one
//! millisecond because consumers commonly keep millisecond precision.

use chrono::{DateTime, Duration, DurationRound, Utc};

/// Polar's timestamp format: RFC 3339 in UTC with microseconds and a `Z`.
pub fn polar_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Like [`polar_time`] for optional instants (`null` when absent).
pub fn polar_time_opt(t: Option<DateTime<Utc>>) -> serde_json::Value {
    t.map_or(serde_json::Value::Null, |t| {
        serde_json::Value::String(polar_time(t))
    })
}

/// The simulator's notion of "now".
#[derive(Debug, Clone)]
pub struct SimClock {
    now: DateTime<Utc>,
    last_stamp: Option<DateTime<Utc>>,
}

impl SimClock {
    /// A clock standing at `start`, truncated to whole milliseconds.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: truncate_ms(start),
            last_stamp: None,
        }
    }

    /// The current simulated instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Moves the clock to `to`. Moving backwards is refused by the callers; the clock itself
    /// only keeps stamps monotonic.
    pub fn set(&mut self, to: DateTime<Utc>) {
        self.now = truncate_ms(to);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&mut self, by: Duration) {
        self.now = truncate_ms(self.now + by);
    }

    /// A fresh instant for a change: the current time, or one millisecond after the previous
    /// stamp if the clock has not moved past it.
    pub fn stamp(&mut self) -> DateTime<Utc> {
        let t = match self.last_stamp {
            Some(last) if last >= self.now => last + Duration::milliseconds(1),
            _ => self.now,
        };
        self.last_stamp = Some(t);
        t
    }
}

fn truncate_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::milliseconds(1)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_strictly_increase_while_the_clock_stands_still() {
        let start = DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z").map(|t| t.to_utc());
        let mut clock = SimClock::new(start.unwrap_or_default());
        let a = clock.stamp();
        let b = clock.stamp();
        assert!(b > a);
        clock.advance(Duration::days(1));
        let c = clock.stamp();
        assert_eq!(c, clock.now());
    }

    #[test]
    fn formats_like_polar() {
        let t = DateTime::parse_from_rfc3339("2026-09-14T09:14:21.655Z").map(|t| t.to_utc());
        assert_eq!(
            polar_time(t.unwrap_or_default()),
            "2026-09-14T09:14:21.655000Z"
        );
    }
}
