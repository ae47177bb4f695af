//! `GET /v1/analytics/forecast?months=N`: MRR projected month by month.
//!
//! The method, stated in every answer: take MRR now; over the last `lookback` complete calendar
//! months take the average MRR gained each month (new + expansion + reactivated) and the
//! pooled rate at which MRR was lost (churned + contraction over the MRR the months started
//! with); then each projected month keeps `1 − rate` of the month before and gains the average.
//! No seasonality, no pipeline: a straight-line view of the recent trend.

use super::{AnalyticsError, Range, Step, first_of_month, midnight, revenue};
use crate::db;
use chrono::{DateTime, Months, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use std::collections::BTreeMap;
use tollgate_gate::Catalog;

/// Most months projected in one answer.
pub(crate) const MAX_MONTHS: u32 = 36;
/// Most months looked back at.
pub(crate) const MAX_LOOKBACK: u32 = 24;

pub(crate) const METHOD: &str = "mrr[m] = round(mrr[m-1] * (1 - churn_rate) + average_gained_mrr), \
from mrr[0] = MRR now; average_gained_mrr is the mean of new + expansion + reactivated MRR over \
the lookback months, churn_rate is (churned + contraction MRR) / MRR at the months' starts, \
summed over the lookback months (0 when no MRR started them)";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct Forecast {
    #[schema(value_type = String)]
    pub(crate) method: &'static str,
    #[schema(value_type = String, format = DateTime)]
    pub(crate) as_of: DateTime<Utc>,
    pub(crate) months: u32,
    pub(crate) lookback_months: u32,
    pub(crate) currencies: Vec<Currency>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ForecastCurrency)]
pub(crate) struct Currency {
    pub(crate) currency: String,
    pub(crate) inputs: Inputs,
    pub(crate) projection: Vec<Projected>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ForecastInputs)]
pub(crate) struct Inputs {
    pub(crate) mrr_now: i64,
    /// The lookback months, `[from, to)`.
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) gained_mrr: i64,
    pub(crate) lost_mrr: i64,
    pub(crate) mrr_at_month_starts: i64,
    pub(crate) average_gained_mrr: f64,
    pub(crate) churn_rate: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ForecastMonth)]
pub(crate) struct Projected {
    /// `YYYY-MM`; the MRR at the end of that month.
    pub(crate) month: String,
    pub(crate) mrr: i64,
    pub(crate) arr: i64,
}

/// The forecast of `months` months from `now`, from the `lookback` complete months before it.
pub(crate) async fn forecast(
    conn: &mut PgConnection,
    catalog: &Catalog,
    months: u32,
    lookback: u32,
    now: DateTime<Utc>,
) -> Result<Forecast, AnalyticsError> {
    if !(1..=MAX_MONTHS).contains(&months) {
        return Err(AnalyticsError::invalid(format!(
            "`months` must be a whole number from 1 to {MAX_MONTHS}"
        )));
    }
    if !(1..=MAX_LOOKBACK).contains(&lookback) {
        return Err(AnalyticsError::invalid(format!(
            "`lookback` must be a whole number from 1 to {MAX_LOOKBACK}"
        )));
    }
    let this_month = first_of_month(now.date_naive());
    let range = Range {
        from: this_month
            .checked_sub_months(Months::new(lookback))
            .unwrap_or(this_month),
        to: this_month,
        step: Step::Month,
    };
    let history = revenue::report(conn, Some(catalog), range).await?;
    let now_rows =
        db::analytics::mrr(conn, now, now + chrono::Duration::microseconds(1), "1 day").await?;
    let mut mrr_now: BTreeMap<String, i64> = now_rows
        .into_iter()
        .map(|row| (row.currency, row.mrr_start))
        .collect();
    let mut currencies: BTreeMap<String, Currency> = BTreeMap::new();
    for currency in history.currencies {
        let now_mrr = mrr_now.remove(&currency.currency).unwrap_or(0);
        let (mut gained, mut lost, mut started) = (0_i64, 0_i64, 0_i64);
        for i in &currency.intervals {
            gained += i.new_mrr + i.expansion_mrr + i.reactivated_mrr;
            lost += i.churned_mrr + i.contraction_mrr;
            started += i.mrr_start;
        }
        let inputs = inputs(&range, now_mrr, gained, lost, started, lookback);
        currencies.insert(
            currency.currency.clone(),
            project(currency.currency, inputs, this_month, months),
        );
    }
    for (currency, now_mrr) in mrr_now {
        let inputs = inputs(&range, now_mrr, 0, 0, 0, lookback);
        currencies.insert(
            currency.clone(),
            project(currency, inputs, this_month, months),
        );
    }
    Ok(Forecast {
        method: METHOD,
        as_of: now,
        months,
        lookback_months: lookback,
        currencies: currencies.into_values().collect(),
    })
}

fn inputs(
    range: &Range,
    mrr_now: i64,
    gained: i64,
    lost: i64,
    started: i64,
    lookback: u32,
) -> Inputs {
    #[expect(
        clippy::cast_precision_loss,
        reason = "minor units stay far below 2^52"
    )]
    let (average, churn_rate) = (
        gained as f64 / f64::from(lookback),
        if started > 0 {
            lost as f64 / started as f64
        } else {
            0.0
        },
    );
    Inputs {
        mrr_now,
        from: range.from.to_string(),
        to: range.to.to_string(),
        gained_mrr: gained,
        lost_mrr: lost,
        mrr_at_month_starts: started,
        average_gained_mrr: average,
        churn_rate,
    }
}

/// Month by month from MRR now: the end of this month, then each following one.
fn project(
    currency: String,
    inputs: Inputs,
    this_month: chrono::NaiveDate,
    months: u32,
) -> Currency {
    let mut mrr = inputs.mrr_now;
    let projection = (0..months)
        .map(|k| {
            #[expect(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                reason = "minor units stay far below 2^52; the projection is rounded to whole units"
            )]
            let next =
                (mrr as f64 * (1.0 - inputs.churn_rate) + inputs.average_gained_mrr).round() as i64;
            mrr = next;
            let month = this_month
                .checked_add_months(Months::new(k))
                .map(midnight)
                .map_or_else(String::new, |m| m.format("%Y-%m").to_string());
            Projected {
                month,
                mrr,
                arr: mrr.saturating_mul(12),
            }
        })
        .collect();
    Currency {
        currency,
        inputs,
        projection,
    }
}
