//! Metered periods: when a count starts again from zero.

use crate::catalog::Reset;
use crate::entitlement::Term;
use crate::time::Timestamp;

/// A metered period: `used` counts from `start` until `resets_at`; `None` means it does not reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Period {
    pub start: Option<Timestamp>,
    pub resets_at: Option<Timestamp>,
}

/// The period of a metered feature current at `now`. `source` is the subscription that
/// provides the effective plan (`None` on the default plan, which counts calendar months).
pub(crate) fn metered_period(reset: Reset, source: Option<&Term>, now: Timestamp) -> Period {
    match reset {
        Reset::Never => Period {
            start: None,
            resets_at: None,
        },
        Reset::Day => {
            let start = now.day_start();
            Period {
                start: Some(start),
                resets_at: Some(start.plus_days(1)),
            }
        }
        Reset::Month => calendar_month(now),
        Reset::BillingPeriod => match source {
            Some(term) => term.billing_period_at(now),
            None => calendar_month(now),
        },
    }
}

fn calendar_month(now: Timestamp) -> Period {
    let start = now.month_start();
    Period {
        start: Some(start),
        resets_at: Some(start.plus_months(1)),
    }
}
