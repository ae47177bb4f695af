//! A circuit breaker for calls to Polar.
//!
//! After `threshold` consecutive failures the circuit opens: calls fail at once, without
//! touching Polar, for `cool_down`. Then one trial call is let through (half-open); its success
//! closes the circuit, its failure opens it again. This keeps a Polar outage from turning every
//! job into a pile of slow timeouts, and says so in the logs and in `tollgate health`.
//!
//! Time comes from the service's [`Clock`], so a test can hold the circuit open and then let the
//! cool-down pass without waiting for it.

use crate::clock::Clock;
use chrono::{DateTime, Utc};
use std::sync::Mutex;
use std::time::Duration;

/// What the breaker lets through now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cool_down: Duration,
    clock: Clock,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    failures: u32,
    opened_at: Option<DateTime<Utc>>,
    trial_in_flight: bool,
    /// How many times the circuit has opened since the breaker was made.
    openings: u64,
}

impl CircuitBreaker {
    pub(crate) fn new(threshold: u32, cool_down: Duration, clock: Clock) -> Self {
        CircuitBreaker {
            threshold: threshold.max(1),
            cool_down,
            clock,
            inner: Mutex::new(Inner {
                failures: 0,
                opened_at: None,
                trial_in_flight: false,
                openings: 0,
            }),
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.opened_at {
            None => BreakerState::Closed,
            Some(at) if self.cooling(at) => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// How many times the circuit has opened.
    pub(crate) fn openings(&self) -> u64 {
        self.lock().openings
    }

    /// How long until an open circuit lets a trial call through (zero when closed or half-open).
    pub(crate) fn retry_in(&self) -> Duration {
        let Some(at) = self.lock().opened_at else {
            return Duration::ZERO;
        };
        let elapsed = self
            .clock
            .now()
            .signed_duration_since(at)
            .to_std()
            .unwrap_or_default();
        self.cool_down.saturating_sub(elapsed)
    }

    /// Whether the circuit opened at `at` is still in its cool-down.
    fn cooling(&self, at: DateTime<Utc>) -> bool {
        // A clock that went backwards counts as still cooling down.
        let elapsed = self.clock.now().signed_duration_since(at);
        !matches!(elapsed.to_std(), Ok(elapsed) if elapsed >= self.cool_down)
    }

    /// Whether a call may go out now. In half-open state only one trial call at a time.
    pub(crate) fn allow(&self) -> bool {
        let mut inner = self.lock();
        match inner.opened_at {
            None => true,
            Some(at) if self.cooling(at) => false,
            Some(_) if inner.trial_in_flight => false,
            Some(_) => {
                inner.trial_in_flight = true;
                true
            }
        }
    }

    pub(crate) fn record_success(&self) {
        let mut inner = self.lock();
        if inner.opened_at.is_some() {
            tracing::info!("Polar circuit closed: a trial call succeeded");
            crate::metrics::polar_circuit(0);
        }
        inner.failures = 0;
        inner.opened_at = None;
        inner.trial_in_flight = false;
    }

    pub(crate) fn record_failure(&self) {
        let mut inner = self.lock();
        inner.failures = inner.failures.saturating_add(1);
        let reopen = inner.trial_in_flight;
        inner.trial_in_flight = false;
        if reopen || (inner.opened_at.is_none() && inner.failures >= self.threshold) {
            inner.opened_at = Some(self.clock.now());
            inner.openings = inner.openings.saturating_add(1);
            crate::metrics::polar_circuit(1);
            tracing::error!(
                failures = inner.failures,
                cool_down_s = self.cool_down.as_secs(),
                "Polar circuit opened: calls to Polar are suspended"
            );
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave `Inner` inconsistent (plain fields).
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_recovers_through_one_trial() {
        let breaker = CircuitBreaker::new(3, Duration::ZERO, Clock::system());
        assert!(breaker.allow());
        breaker.record_failure();
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.record_failure();
        // Zero cool-down: open turns half-open at once, and lets exactly one trial through.
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.allow());
        assert!(!breaker.allow());
        breaker.record_failure();
        assert!(breaker.allow());
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.allow() && breaker.allow());
    }

    #[test]
    fn an_open_circuit_refuses_calls_during_the_cool_down() {
        let start = chrono::DateTime::<Utc>::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let clock = Clock::manual(start);
        let breaker = CircuitBreaker::new(1, Duration::from_secs(60), clock.clone());
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.allow());
        clock.set(start + chrono::Duration::seconds(60));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.allow());
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.openings(), 1);
    }
}
