//! The monthly usage report: per customer and feature, the events and units of one UTC
//! calendar month, and the units billed as overage — as CSV.
//!
//! It reads the de-duplication keys (one row per counted event, by the event's own
//! timestamp) and the overage outbox, so it shows exactly what was counted and billed. Keys of
//! the previous month are always kept ([`super::retention`]); older months are complete only
//! until their keys expire.

use crate::db;
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use sqlx::PgPool;
use std::io::Write;

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Month {
    first: NaiveDate,
}

impl std::str::FromStr for Month {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d")
            .ok()
            .filter(|_| text.trim().len() == 7)
            .map(|first| Month { first })
            .ok_or_else(|| format!("`{text}` is not a month such as 2026-11 (YYYY-MM)"))
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.first.format("%Y-%m"))
    }
}

impl Month {
    /// The month's first day.
    pub(crate) fn first(self) -> NaiveDate {
        self.first
    }

    /// The month before the one that holds `now` (the last complete month).
    pub(crate) fn before(now: DateTime<Utc>) -> Self {
        let day = now.date_naive();
        let this = day.with_day(1).unwrap_or(day);
        Month {
            first: this.checked_sub_months(Months::new(1)).unwrap_or(this),
        }
    }

    /// `[start, end)` of the month in UTC.
    pub(crate) fn bounds(self) -> (DateTime<Utc>, DateTime<Utc>) {
        let start = self
            .first
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc();
        let end = self
            .first
            .checked_add_months(Months::new(1))
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(DateTime::<Utc>::MAX_UTC, |d| d.and_utc());
        (start, end)
    }
}

/// One line of the report: a customer's events, units and billed overage of one feature.
pub(crate) use crate::db::usage_events::Total as Line;

/// The report's lines, by customer then feature: those the monthly job stored for the month,
/// else counted now from the events still kept.
pub(crate) async fn lines(pool: &PgPool, month: Month) -> Result<Vec<Line>, sqlx::Error> {
    if let Some(stored) = db::usage_monthly::of_month(pool, month.first()).await? {
        return Ok(stored);
    }
    counted(pool, month).await
}

/// The report's lines counted from the events of the month.
pub(crate) async fn counted(pool: &PgPool, month: Month) -> Result<Vec<Line>, sqlx::Error> {
    let (start, end) = month.bounds();
    db::usage_events::totals(pool, start, end).await
}

/// Writes `lines` as CSV (RFC 4180) with a header row.
pub(crate) fn write_csv(out: &mut impl Write, month: Month, lines: &[Line]) -> std::io::Result<()> {
    writeln!(out, "month,customer,feature,events,units,overage_units")?;
    for line in lines {
        writeln!(
            out,
            "{month},{},{},{},{},{}",
            field(&line.customer),
            field(&line.feature),
            line.events,
            line.units,
            line.overage_units
        )?;
    }
    Ok(())
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly_and_csv_fields_are_quoted() {
        let month: Month = "2026-11".parse().unwrap();
        assert_eq!(month.to_string(), "2026-11");
        assert!("2026-13".parse::<Month>().is_err());
        assert!("2026-1".parse::<Month>().is_err());
        assert!("november".parse::<Month>().is_err());
        let mut out = Vec::new();
        let line = Line {
            customer: "acme, \"inc\"".into(),
            feature: "api_calls".into(),
            events: 2,
            units: 5,
            overage_units: 1,
        };
        write_csv(&mut out, month, &[line]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "month,customer,feature,events,units,overage_units\n2026-11,\"acme, \"\"inc\"\"\",api_calls,2,5,1\n"
        );
    }
}
