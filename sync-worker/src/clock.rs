//! The service's one source of "now".
//!
//! Signature tolerance and snapshot rules both depend on the time. Production reads the system
//! clock; tests and replays of a recorded story set it by hand, so every rule can be exercised
//! at a chosen instant without waiting.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that stands at `at` until [`Clock::set`] moves it.
    pub fn manual(at: DateTime<Utc>) -> Self {
        Self {
            manual: Some(Arc::new(AtomicI64::new(at.timestamp_micros()))),
        }
    }

    /// Moves a manual clock (and every clone of it) to `at`; no effect on the system clock.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(manual) = &self.manual {
            manual.store(at.timestamp_micros(), Ordering::SeqCst);
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(manual) => {
                DateTime::from_timestamp_micros(manual.load(Ordering::SeqCst)).unwrap_or_default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_every_clone() {
        let at = DateTime::parse_from_rfc3339("2026-09-14T09:14:22.031447Z")
            .unwrap()
            .to_utc();
        let clock = Clock::manual(at);
        let clone = clock.clone();
        assert_eq!(clone.now(), at);
        let later = at + chrono::Duration::days(3);
        clock.set(later);
        assert_eq!(clone.now(), later);
    }
}
