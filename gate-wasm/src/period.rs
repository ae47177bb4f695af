//! Metered periods: when a count starts again from zero.
//!
//! One code path gives every period: `build_snapshot` writes it into the snapshot, `Gate::check`
//! recomputes it at `now`, and [`metered_periods`] gives it to the sync worker, which keeps a
//! counter per period, without building a snapshot.

use crate::account::Account;
use crate::catalog::{Catalog, FeatureType, Reset};
use crate::entitlement::Term;
use crate::polar::Interval;
use crate::snapshot::kept_subscriptions;
use crate::time::{DAY_MS, Timestamp};

/// A metered period: `used` counts from `start` until `resets_at`.
///
/// `start` is `None` for a feature that never resets. `resets_at` is `None` when no reset is
/// due: a feature that never resets, or a `past_due` billing period, which does not roll over
/// while unpaid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    pub start: Option<Timestamp>,
    pub resets_at: Option<Timestamp>,
}

/// The periods the metered features of a catalog count in, for one account at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeteredPeriods<'c> {
    /// By feature key, in the catalog's (sorted) order.
    periods: Vec<(&'c str, Period)>,
}

impl<'c> MeteredPeriods<'c> {
    /// The period `feature` counts in; `None` when the catalog has no metered feature of that
    /// name.
    pub fn get(&self, feature: &str) -> Option<Period> {
        self.periods
            .binary_search_by(|(key, _)| (*key).cmp(feature))
            .ok()
            .and_then(|i| self.periods.get(i))
            .map(|(_, period)| *period)
    }

    /// Every metered feature with its period, by key.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'c str, Period)> + '_ {
        self.periods.iter().copied()
    }
}

/// The period each metered feature counts in for `account` at `now`: exactly the
/// `period_start` and `resets_at` of `build_snapshot(catalog, account, now)`, without building
/// the snapshot. Usage, gauges and grants do not move a period; only the subscriptions do.
pub fn metered_periods<'c>(
    catalog: &'c Catalog,
    account: &Account,
    now: Timestamp,
) -> MeteredPeriods<'c> {
    let kept = kept_subscriptions(catalog, account, now);
    let (_, source) = kept.standing_at(catalog, now);
    let periods = catalog
        .features()
        .iter()
        .filter_map(|f| {
            Some((
                f.key.as_str(),
                feature_period(f.kind, f.reset, source, now)?,
            ))
        })
        .collect();
    MeteredPeriods { periods }
}

/// The period a feature counts in at `now`; `None` unless it is metered. `source` is the
/// subscription that provides the effective plan (`None` on the default plan).
pub(crate) fn feature_period(
    kind: FeatureType,
    reset: Option<Reset>,
    source: Option<&Term>,
    now: Timestamp,
) -> Option<Period> {
    match (kind, reset) {
        (FeatureType::Metered, Some(reset)) => Some(metered_period(reset, source, now)),
        _ => None,
    }
}

fn metered_period(reset: Reset, source: Option<&Term>, now: Timestamp) -> Period {
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
            Some(term) => billing_period(term, now),
            None => calendar_month(now),
        },
    }
}

/// The billing period current at `now`. After `current_period_end` a renewing subscription is
/// assumed renewed and its periods projected forward; a `past_due` one keeps its last period
/// and does not reset while unpaid.
fn billing_period(term: &Term, now: Timestamp) -> Period {
    let frozen = Period {
        start: Some(term.period_start),
        resets_at: None,
    };
    let Some(end) = term.period_end else {
        return frozen;
    };
    if now < end {
        return Period {
            start: Some(term.period_start),
            resets_at: Some(end),
        };
    }
    if !term.renews {
        return frozen;
    }
    let (start, resets_at) = match term.interval {
        Interval::Day => project_by_days(term, end, 1, now),
        Interval::Week => project_by_days(term, end, 7, now),
        Interval::Month => project_by_months(term, end, 1, now),
        Interval::Year => project_by_months(term, end, 12, now),
        Interval::Unknown => return frozen,
    };
    Period {
        start: Some(start),
        resets_at: Some(resets_at),
    }
}

fn project_by_days(
    term: &Term,
    end: Timestamp,
    days: i64,
    now: Timestamp,
) -> (Timestamp, Timestamp) {
    let length = DAY_MS * days * i64::from(term.interval_count);
    let elapsed = (now.as_millis() - end.as_millis()) / length.max(1);
    let start = end.plus_millis(elapsed * length);
    (start, start.plus_millis(length))
}

fn project_by_months(
    term: &Term,
    end: Timestamp,
    months: u32,
    now: Timestamp,
) -> (Timestamp, Timestamp) {
    let step = months.saturating_mul(term.interval_count);
    // Months are added to the anchor, not to the previous period end, so a period that
    // started on the 31st comes back to the 31st after a short month.
    let boundary = |n: u32| end.plus_months(n.saturating_mul(step));
    let estimate = end.months_until(now) / i64::from(step.max(1));
    let mut n = u32::try_from(estimate).unwrap_or(0).max(1);
    while n > 1 && boundary(n - 1) > now {
        n -= 1;
    }
    while boundary(n) <= now {
        n += 1;
    }
    (boundary(n - 1), boundary(n))
}

fn calendar_month(now: Timestamp) -> Period {
    let start = now.month_start();
    Period {
        start: Some(start),
        resets_at: Some(start.plus_months(1)),
    }
}
