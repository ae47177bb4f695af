//! Revenue and usage analytics, computed in SQL over the stored Polar objects and the usage
//! counts: MRR and its movements ([`revenue`]), a projection of MRR ([`forecast`]) and usage
//! patterns per feature ([`usage`]). The definitions are in `docs/analytics.md`.

pub(crate) mod forecast;
pub(crate) mod revenue;
pub(crate) mod usage;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

/// At most this many intervals in one answer.
pub(crate) const MAX_INTERVALS: i64 = 366;

/// Why an analytics question was not answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AnalyticsError {
    /// The question itself is wrong: 400 with this code, and nothing was read.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// The question names a feature the catalog does not have: 422 `unknown_feature`.
    #[error("the catalog has no feature `{0}`")]
    UnknownFeature(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl AnalyticsError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Refused {
            code: "invalid_query",
            message: message.into(),
        }
    }
}

/// The length of one interval of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Month,
    Week,
    Day,
}

impl Step {
    pub(crate) fn parse(text: &str) -> Result<Self, AnalyticsError> {
        match text {
            "month" => Ok(Self::Month),
            "week" => Ok(Self::Week),
            "day" => Ok(Self::Day),
            other => Err(AnalyticsError::invalid(format!(
                "`interval` must be month, week or day, not `{other}`"
            ))),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Week => "week",
            Self::Day => "day",
        }
    }

    /// The step as a PostgreSQL interval.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::Month => "1 mon",
            Self::Week => "7 days",
            Self::Day => "1 day",
        }
    }

    /// How many intervals `[from, to)` holds, the last one possibly shorter.
    fn count(self, from: NaiveDate, to: NaiveDate) -> i64 {
        let days = (to - from).num_days();
        match self {
            Self::Day => days,
            Self::Week => (days + 6) / 7,
            Self::Month => {
                let months = i64::from(to.year() - from.year()) * 12 + i64::from(to.month())
                    - i64::from(from.month());
                let whole =
                    from.checked_add_months(Months::new(u32::try_from(months).unwrap_or(0)));
                if whole.is_some_and(|w| w < to) {
                    months + 1
                } else {
                    months
                }
            }
        }
    }
}

/// The dates `[from, to)` of a report and its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
    pub(crate) step: Step,
}

impl Range {
    /// The range a query asks for; by default the twelve months up to the end of this one.
    pub(crate) fn parse(
        from: Option<&str>,
        to: Option<&str>,
        interval: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, AnalyticsError> {
        let this_month = first_of_month(now.date_naive());
        let defaults = Self {
            from: this_month
                .checked_sub_months(Months::new(11))
                .unwrap_or(this_month),
            to: this_month
                .checked_add_months(Months::new(1))
                .unwrap_or(this_month),
            step: Step::Month,
        };
        Self::parse_or(from, to, interval, defaults)
    }

    /// The range a query asks for, each part missing from it taken from `defaults`.
    pub(crate) fn parse_or(
        from: Option<&str>,
        to: Option<&str>,
        interval: Option<&str>,
        defaults: Range,
    ) -> Result<Self, AnalyticsError> {
        let from = from.map_or(Ok(defaults.from), |text| date("from", text))?;
        let to = to.map_or(Ok(defaults.to), |text| date("to", text))?;
        let step = interval.map_or(Ok(defaults.step), Step::parse)?;
        if from >= to {
            return Err(AnalyticsError::invalid(format!(
                "`from` ({from}) must be before `to` ({to})"
            )));
        }
        let count = step.count(from, to);
        if count > MAX_INTERVALS {
            return Err(AnalyticsError::Refused {
                code: "range_too_large",
                message: format!(
                    "{from} to {to} by {} is {count} intervals; at most {MAX_INTERVALS} are answered",
                    step.as_str()
                ),
            });
        }
        Ok(Self { from, to, step })
    }

    pub(crate) fn start(&self) -> DateTime<Utc> {
        midnight(self.from)
    }

    pub(crate) fn end(&self) -> DateTime<Utc> {
        midnight(self.to)
    }

    /// The `[start, end)` of every interval, as the SQL cuts them: steps from `from`, the last
    /// one ending at `to`.
    pub(crate) fn intervals(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let end = self.end();
        let mut out = Vec::new();
        let mut start = self.start();
        while start < end {
            let next = match self.step {
                Step::Month => start.checked_add_months(Months::new(1)).unwrap_or(end),
                Step::Week => start + chrono::Duration::days(7),
                Step::Day => start + chrono::Duration::days(1),
            };
            out.push((start, next.min(end)));
            start = next;
        }
        out
    }
}

fn date(name: &str, text: &str) -> Result<NaiveDate, AnalyticsError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        AnalyticsError::invalid(format!(
            "`{name}` must be a date such as 2026-11-01, not `{text}`"
        ))
    })
}

pub(crate) fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

pub(crate) fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// `numerator / denominator` as a rate, `None` when the denominator is zero.
pub(crate) fn rate(numerator: i64, denominator: i64) -> Option<f64> {
    #[expect(
        clippy::cast_precision_loss,
        reason = "minor units and counts stay far below 2^52"
    )]
    (denominator != 0).then(|| numerator as f64 / denominator as f64)
}

/// `numerator / denominator` rounded half away from zero, `None` when the denominator is zero.
pub(crate) fn ratio(numerator: i64, denominator: i64) -> Option<i64> {
    if denominator == 0 {
        return None;
    }
    let (n, d) = (i128::from(numerator), i128::from(denominator));
    let rounded = (2 * n + d.signum() * n.signum() * d.abs()) / (2 * d);
    i64::try_from(rounded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_count_their_intervals_and_refuse_too_many() {
        let now = "2026-12-05T10:00:00Z".parse().unwrap();
        let range = Range::parse(None, None, None, now).unwrap();
        assert_eq!(range.from.to_string(), "2026-01-01");
        assert_eq!(range.to.to_string(), "2027-01-01");
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(Step::Month.count(d("2026-01-01"), d("2027-01-01")), 12);
        assert_eq!(Step::Month.count(d("2026-01-15"), d("2026-03-01")), 2);
        assert_eq!(Step::Week.count(d("2026-11-01"), d("2026-11-16")), 3);
        assert!(Range::parse(Some("2025-01-01"), Some("2026-01-03"), Some("day"), now).is_err());
        assert!(Range::parse(Some("2025-01-01"), Some("2026-01-02"), Some("day"), now).is_ok());
        assert!(Range::parse(Some("2026-02-30"), None, None, now).is_err());
    }

    #[test]
    fn ratios_round_half_away_from_zero() {
        assert_eq!(ratio(5800, 3), Some(1933));
        assert_eq!(ratio(5, 2), Some(3));
        assert_eq!(ratio(-5, 2), Some(-3));
        assert_eq!(ratio(1, 0), None);
        assert_eq!(rate(1, 4), Some(0.25));
    }
}
