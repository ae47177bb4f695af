//! How long de-duplication keys are kept, and their removal.
//!
//! A key must outlive every retry of its event: keys are kept at least [`MIN_RETENTION`]. They
//! are also the monthly report's source, so the whole previous calendar month is kept as well:
//! the cutoff is the earlier of `now − 35 days` and the first instant of the previous month.
//! Keys are deleted in slices of [`DELETE_SLICE`] rows, each its own statement, so the cleanup
//! never holds many locks or one long transaction.

use crate::db;
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use sqlx::PgPool;

/// The shortest time a de-duplication key is kept.
pub(crate) const MIN_RETENTION: chrono::Duration = chrono::Duration::days(35);
/// Keys deleted per statement.
pub(crate) const DELETE_SLICE: i64 = 10_000;

/// Keys received before this instant may be deleted at `now`.
pub(crate) fn cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    let previous_month = NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
        .and_then(|first| first.checked_sub_months(Months::new(1)))
        .and_then(|first| first.and_hms_opt(0, 0, 0))
        .map(|start| start.and_utc());
    let floor = now - MIN_RETENTION;
    previous_month.map_or(floor, |start| start.min(floor))
}

/// Deletes the keys past their retention at `now`; returns how many.
pub(crate) async fn delete_expired(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let cutoff = cutoff(now);
    let mut deleted = 0;
    loop {
        let slice = db::usage_events::delete_slice_before(pool, cutoff, DELETE_SLICE).await?;
        deleted += slice;
        if slice < DELETE_SLICE as u64 {
            return Ok(deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn keys_outlive_35_days_and_the_previous_month() {
        // Early in a month, 35 days reach further back than the previous month's start.
        assert_eq!(
            cutoff(at("2026-03-01T00:00:00Z")),
            at("2026-01-25T00:00:00Z")
        );
        // Late in a month, the previous month's start is the earlier.
        assert_eq!(
            cutoff(at("2026-03-31T12:00:00Z")),
            at("2026-02-01T00:00:00Z")
        );
        assert_eq!(
            cutoff(at("2026-01-15T00:00:00Z")),
            at("2025-12-01T00:00:00Z")
        );
    }
}
