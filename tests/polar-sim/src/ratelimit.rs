//! Polar's rate limit: a fixed window per access token.
//!
//! The window opens at a token's first request and lasts `window`; within it at most
//! `requests` requests pass. Over the limit Polar answers 429 with an empty body and
//! `retry-after` set to the window length in seconds (not the time left). `throttle` forces the
//! next N requests to be refused, for tests of 429 storms.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Requests allowed per window; `requests = 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub requests: u32,
    #[serde(with = "secs")]
    pub window: Duration,
}

impl RateLimit {
    /// No limit: tests and benchmarks that are not about throttling.
    pub fn off() -> Self {
        Self {
            requests: 0,
            ..Self::default()
        }
    }
}

impl Default for RateLimit {
    /// Polar production: 500 requests per minute.
    fn default() -> Self {
        Self {
            requests: 500,
            window: Duration::from_secs(60),
        }
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[derive(Debug)]
pub struct Limiter {
    limit: RateLimit,
    windows: HashMap<String, (Instant, u32)>,
    forced: u32,
    forced_retry_after: u64,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            windows: HashMap::new(),
            forced: 0,
            forced_retry_after: 1,
        }
    }

    pub fn set_limit(&mut self, limit: RateLimit) {
        self.limit = limit;
        self.windows.clear();
    }

    /// Refuses the next `requests` requests with `retry-after: retry_after`.
    pub fn throttle(&mut self, requests: u32, retry_after: u64) {
        self.forced = requests;
        self.forced_retry_after = retry_after;
    }

    /// `Err(retry_after_seconds)` when the request must be refused.
    pub fn check(&mut self, token: &str, now: Instant) -> Result<(), u64> {
        if self.forced > 0 {
            self.forced -= 1;
            return Err(self.forced_retry_after);
        }
        if self.limit.requests == 0 {
            return Ok(());
        }
        let window = self.limit.window;
        let entry = self.windows.entry(token.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit.requests {
            return Err(window.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_refuses_past_the_limit_and_reopens() {
        let mut l = Limiter::new(RateLimit {
            requests: 2,
            window: Duration::from_secs(60),
        });
        let t0 = Instant::now();
        assert_eq!(l.check("a", t0), Ok(()));
        assert_eq!(l.check("a", t0), Ok(()));
        assert_eq!(l.check("a", t0), Err(60));
        assert_eq!(l.check("b", t0), Ok(()), "each token has its own window");
        assert_eq!(l.check("a", t0 + Duration::from_secs(60)), Ok(()));
    }

    #[test]
    fn throttle_refuses_exactly_n_requests() {
        let mut l = Limiter::new(RateLimit::off());
        l.throttle(2, 3);
        let t0 = Instant::now();
        assert_eq!(l.check("a", t0), Err(3));
        assert_eq!(l.check("a", t0), Err(3));
        assert_eq!(l.check("a", t0), Ok(()));
    }
}
