//! `GET /v1/analytics/revenue`: per currency and interval, MRR at both ends and its movements,
//! subscribers per plan, churn, ARPU, LTV, payments and revenue (docs/analytics.md).

use super::{AnalyticsError, Range, rate, ratio};
use crate::db::{self, analytics::MoneyRow, analytics::MrrRow};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet};
use tollgate_gate::Catalog;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = RevenueReport)]
pub(crate) struct Report {
    /// The first day, `YYYY-MM-DD`.
    pub(crate) from: String,
    /// The day after the last, `YYYY-MM-DD`.
    pub(crate) to: String,
    /// `month`, `week` or `day`.
    #[schema(value_type = String)]
    pub(crate) interval: &'static str,
    pub(crate) currencies: Vec<Currency>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = RevenueCurrency)]
pub(crate) struct Currency {
    pub(crate) currency: String,
    pub(crate) intervals: Vec<Interval>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = RevenueInterval)]
pub(crate) struct Interval {
    #[schema(value_type = String, format = DateTime)]
    pub(crate) start: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub(crate) end: DateTime<Utc>,
    pub(crate) mrr_start: i64,
    pub(crate) mrr_end: i64,
    pub(crate) new_mrr: i64,
    pub(crate) expansion_mrr: i64,
    pub(crate) contraction_mrr: i64,
    pub(crate) churned_mrr: i64,
    pub(crate) reactivated_mrr: i64,
    pub(crate) net_new_mrr: i64,
    pub(crate) arr: i64,
    pub(crate) subscribers_start: i64,
    pub(crate) subscribers_end: i64,
    pub(crate) churned_customers: i64,
    pub(crate) plans: Vec<Plan>,
    pub(crate) customer_churn_rate: Option<f64>,
    pub(crate) revenue_churn_rate: Option<f64>,
    pub(crate) arpu: Option<i64>,
    pub(crate) ltv: Option<i64>,
    pub(crate) payments: Payments,
    pub(crate) gross_revenue: i64,
    pub(crate) refunds: i64,
    pub(crate) net_revenue: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = RevenuePlan)]
pub(crate) struct Plan {
    pub(crate) plan: String,
    pub(crate) subscribers: i64,
    pub(crate) customers: i64,
    pub(crate) mrr: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = RevenuePayments)]
pub(crate) struct Payments {
    pub(crate) succeeded: i64,
    pub(crate) failed: i64,
    pub(crate) success_rate: Option<f64>,
}

/// One interval of one currency as the two statements found it.
type Cell = (Option<MrrRow>, MoneyRow);

/// The revenue report of `range`, every currency that has MRR or money in it; plans are named
/// by the catalog's plan keys (without one, by product name).
pub(crate) async fn report(
    conn: &mut PgConnection,
    catalog: Option<&Catalog>,
    range: Range,
) -> Result<Report, AnalyticsError> {
    let (from, to, step) = (range.start(), range.end(), range.step.sql());
    let mrr = db::analytics::mrr(conn, from, to, step).await?;
    let money = db::analytics::money(conn, from, to, step).await?;
    let product_ids: BTreeSet<String> = mrr
        .iter()
        .flat_map(|row| row.products.0.iter().map(|p| p.product_id.clone()))
        .collect();
    let ids: Vec<String> = product_ids.into_iter().collect();
    let products = db::products::with_ids(conn, &ids).await?;
    // Each product under the plan a subscription to it selects, else under its own name.
    let plan_of: BTreeMap<String, String> = products
        .into_iter()
        .map(|product| {
            let plan = catalog
                .and_then(|catalog| catalog.plan_of_product(&product))
                .map(|plan| plan.key.clone());
            let label = plan.or(product.name).unwrap_or_else(|| product.id.clone());
            (product.id, label)
        })
        .collect();
    let bounds = range.intervals();
    let mut by_currency: BTreeMap<String, BTreeMap<DateTime<Utc>, Cell>> = BTreeMap::new();
    for row in mrr {
        let cell = by_currency
            .entry(row.currency.clone())
            .or_default()
            .entry(row.start)
            .or_default();
        cell.0 = Some(row);
    }
    for row in money {
        let cell = by_currency
            .entry(row.currency.clone())
            .or_default()
            .entry(row.start)
            .or_default();
        cell.1 = row;
    }
    let currencies = by_currency
        .into_iter()
        .map(|(currency, mut cells)| Currency {
            currency,
            intervals: bounds
                .iter()
                .map(|&(start, end)| {
                    let (mrr, money) = cells.remove(&start).unwrap_or_default();
                    interval(start, end, mrr.as_ref(), &money, &plan_of)
                })
                .collect(),
        })
        .collect();
    Ok(Report {
        from: range.from.to_string(),
        to: range.to.to_string(),
        interval: range.step.as_str(),
        currencies,
    })
}

fn interval(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    mrr: Option<&MrrRow>,
    money: &MoneyRow,
    plan_of: &BTreeMap<String, String>,
) -> Interval {
    let m = |f: fn(&MrrRow) -> i64| mrr.map_or(0, f);
    let (mrr_start, mrr_end) = (m(|r| r.mrr_start), m(|r| r.mrr_end));
    let (new, expansion, contraction, churned, reactivated) = (
        m(|r| r.new_mrr),
        m(|r| r.expansion_mrr),
        m(|r| r.contraction_mrr),
        m(|r| r.churned_mrr),
        m(|r| r.reactivated_mrr),
    );
    let (subscribers_start, subscribers_end, churned_customers) = (
        m(|r| r.subscribers_start),
        m(|r| r.subscribers_end),
        m(|r| r.churned_customers),
    );
    let ltv = ratio(
        mrr_end.saturating_mul(subscribers_start),
        subscribers_end.saturating_mul(churned_customers),
    );
    Interval {
        start,
        end,
        mrr_start,
        mrr_end,
        new_mrr: new,
        expansion_mrr: expansion,
        contraction_mrr: contraction,
        churned_mrr: churned,
        reactivated_mrr: reactivated,
        net_new_mrr: new + expansion + reactivated - contraction - churned,
        arr: mrr_end.saturating_mul(12),
        subscribers_start,
        subscribers_end,
        churned_customers,
        plans: plans(mrr, plan_of),
        customer_churn_rate: rate(churned_customers, subscribers_start),
        revenue_churn_rate: rate(churned + contraction, mrr_start),
        arpu: ratio(mrr_end, subscribers_end),
        ltv,
        payments: Payments {
            succeeded: money.succeeded,
            failed: money.failed,
            success_rate: rate(money.succeeded, money.succeeded + money.failed),
        },
        gross_revenue: money.gross_revenue,
        refunds: money.refunds,
        net_revenue: money.gross_revenue - money.refunds,
    }
}

/// The products counted in MRR at the interval's end, by the plan each sells.
fn plans(mrr: Option<&MrrRow>, plan_of: &BTreeMap<String, String>) -> Vec<Plan> {
    let mut plans: BTreeMap<String, Plan> = BTreeMap::new();
    for product in mrr.map(|r| r.products.0.as_slice()).unwrap_or_default() {
        let key = plan_of
            .get(&product.product_id)
            .cloned()
            .unwrap_or_else(|| product.product_id.clone());
        let plan = plans.entry(key.clone()).or_insert(Plan {
            plan: key,
            subscribers: 0,
            customers: 0,
            mrr: 0,
        });
        plan.subscribers += product.subscribers;
        plan.customers += product.customers;
        plan.mrr += product.mrr;
    }
    plans.into_values().collect()
}
