//! Metering: counting allowed requests on metered features, and shipping them as usage events.
//!
//! **In the isolate.** A snapshot's `used` is the count at issue; requests allowed since then
//! are not in it until the sync worker ingests them and publishes the next revision. Each
//! isolate therefore keeps, per cached snapshot, the units it allowed per feature and period
//! ([`LocalUsage`]) and checks `local + amount` against the snapshot, so one isolate can never
//! run past the allowance its snapshot leaves. The count starts again at zero with each newer
//! revision (whose `used` includes what was ingested) and with each new period.
//!
//! **To the sync worker.** Every allowed metered request becomes a [`UsageEvent`] with a unique
//! id. The isolate gathers events for a few milliseconds and sends them to a Cloudflare Queue
//! in one batch, after the answers have gone out. The queue's consumer (this Worker) posts each
//! batch it is given to the sync worker's `POST /v1/usage`; anything but a 2xx retries the whole batch
//! later, so nothing is lost while the sync worker is down, and the sync worker's
//! de-duplication by (customer, id) makes a redelivered event count once.

use serde::{Deserialize, Serialize};
use tollgate_gate::Timestamp;

/// Units this isolate allowed since its snapshot was issued, per feature and period.
#[derive(Debug, Default, Clone)]
pub struct LocalUsage {
    /// (feature, end of the period counted, units). Few metered features: a list is fastest.
    counts: Vec<(String, Option<Timestamp>, u64)>,
}

impl LocalUsage {
    /// Units counted for `feature` in the period ending at `period_end`.
    pub fn pending(&self, feature: &str, period_end: Option<Timestamp>) -> u64 {
        self.counts
            .iter()
            .find(|(f, p, _)| f == feature && *p == period_end)
            .map_or(0, |(_, _, n)| *n)
    }

    /// Counts `amount` more units; a new period replaces the count of the previous one.
    pub fn add(&mut self, feature: &str, period_end: Option<Timestamp>, amount: u64) {
        match self.counts.iter_mut().find(|(f, _, _)| f == feature) {
            Some((_, p, n)) if *p == period_end => *n = n.saturating_add(amount),
            Some((_, p, n)) => {
                *p = period_end;
                *n = amount;
            }
            None => self.counts.push((feature.to_owned(), period_end, amount)),
        }
    }

    /// Gives back units counted for a request that did not happen after all (the origin
    /// failed), if their period is still the one counted.
    pub fn release(&mut self, feature: &str, period_end: Option<Timestamp>, amount: u64) {
        if let Some((_, _, n)) = self
            .counts
            .iter_mut()
            .find(|(f, p, _)| f == feature && *p == period_end)
        {
            *n = n.saturating_sub(amount);
        }
    }
}

/// One allowed metered request, as the sync worker's `POST /v1/usage` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEvent {
    /// Unique per request; the sync worker de-duplicates on (customer, id).
    pub id: String,
    pub customer: String,
    pub feature: String,
    pub amount: u64,
    /// When the request was allowed, RFC 3339 with milliseconds.
    pub timestamp: String,
}

/// The body of `POST /v1/usage`.
#[derive(Debug, Serialize)]
pub struct UsageBatch<'a> {
    pub events: &'a [UsageEvent],
}

/// What to do with a batch after posting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted (individually rejected events are reported by the sync worker and kept there).
    Ack,
    /// Not accepted: redeliver later.
    Retry,
}

impl Delivery {
    pub fn from_status(status: u16) -> Self {
        if (200..300).contains(&status) {
            Self::Ack
        } else {
            Self::Retry
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_feature_and_period() {
        let june = Some(Timestamp::from_millis(1_000));
        let july = Some(Timestamp::from_millis(2_000));
        let mut usage = LocalUsage::default();
        usage.add("api_calls", june, 2);
        usage.add("api_calls", june, 3);
        usage.add("exports", None, 1);
        assert_eq!(usage.pending("api_calls", june), 5);
        assert_eq!(usage.pending("exports", None), 1);
        assert_eq!(
            usage.pending("api_calls", july),
            0,
            "a new period starts at zero"
        );
        usage.add("api_calls", july, 1);
        assert_eq!(usage.pending("api_calls", july), 1);
        assert_eq!(usage.pending("api_calls", june), 0);
        usage.release("api_calls", june, 1);
        assert_eq!(
            usage.pending("api_calls", july),
            1,
            "a past period's release changes nothing"
        );
        usage.release("api_calls", july, 5);
        assert_eq!(usage.pending("api_calls", july), 0);
    }

    #[test]
    fn only_2xx_acknowledges_a_batch() {
        assert_eq!(Delivery::from_status(200), Delivery::Ack);
        assert_eq!(Delivery::from_status(207), Delivery::Ack);
        for status in [400, 401, 429, 500, 503] {
            assert_eq!(Delivery::from_status(status), Delivery::Retry);
        }
    }

    #[test]
    fn a_batch_is_the_usage_endpoints_shape() {
        let events = [UsageEvent {
            id: "e1".into(),
            customer: "c".into(),
            feature: "api_calls".into(),
            amount: 1,
            timestamp: "2026-11-25T10:00:00.000Z".into(),
        }];
        assert_eq!(
            serde_json::to_value(UsageBatch { events: &events }).unwrap(),
            serde_json::json!({"events": [{"id": "e1", "customer": "c", "feature": "api_calls",
                                "amount": 1, "timestamp": "2026-11-25T10:00:00.000Z"}]})
        );
    }
}
