//! The per-token rate limit of the `/v1` API: a token bucket per actor, in this replica's
//! memory.
//!
//! Each actor's bucket holds up to `burst` requests and refills at `rate` per second; a request
//! takes one, and one that finds the bucket empty is refused with how long until the next one
//! refills (`429 rate_limited`, `Retry-After`). With N replicas an actor may make up to N times
//! the rate: the limit guards the service and Polar's shared budget against one runaway client,
//! it does not meter. Time is the service's [`Clock`], so tests hold it still.

use crate::clock::Clock;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    clock: Clock,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

impl RateLimiter {
    /// `rate` requests per second, up to `burst` at once (at least 1).
    pub(crate) fn new(rate: u32, burst: u32, clock: Clock) -> Self {
        Self {
            rate: f64::from(rate.max(1)),
            burst: f64::from(burst.max(1)),
            clock,
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from `actor`'s bucket, or says how long until one is there.
    pub(crate) fn take(&self, actor: &str) -> Result<(), Duration> {
        let now = self.clock.now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(actor.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now
            .signed_duration_since(bucket.at)
            .to_std()
            .unwrap_or_default()
            .as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let clock = Clock::manual(start);
        let limiter = RateLimiter::new(2, 3, clock.clone());
        for _ in 0..3 {
            assert!(limiter.take("token:a").is_ok());
        }
        assert_eq!(limiter.take("token:a"), Err(Duration::from_millis(500)));
        // Another actor has its own bucket.
        assert!(limiter.take("token:b").is_ok());
        clock.set(start + chrono::Duration::milliseconds(500));
        assert!(limiter.take("token:a").is_ok());
        assert!(limiter.take("token:a").is_err());
    }
}
