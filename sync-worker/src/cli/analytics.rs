//! `tollgate report revenue --month YYYY-MM`: one month's revenue figures as CSV, a row per
//! currency, the same figures as `GET /v1/analytics/revenue` for that month (money in minor
//! units).

use crate::analytics::{Range, Step, revenue};
use crate::app;
use crate::config::DatabaseConfig;
use crate::usage::report::Month;
use anyhow::Context as _;
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct RevenueReportArgs {
    /// The month, YYYY-MM.
    #[arg(long)]
    pub(crate) month: Month,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

const COLUMNS: [&str; 24] = [
    "month",
    "currency",
    "mrr_start",
    "mrr_end",
    "new_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "reactivated_mrr",
    "net_new_mrr",
    "arr",
    "subscribers_start",
    "subscribers_end",
    "churned_customers",
    "customer_churn_rate",
    "revenue_churn_rate",
    "arpu",
    "ltv",
    "payments_succeeded",
    "payments_failed",
    "payment_success_rate",
    "gross_revenue",
    "refunds",
    "net_revenue",
];

pub(crate) async fn revenue_report(args: &RevenueReportArgs) -> anyhow::Result<()> {
    let pool = app::connect(&args.database.url, 1).await?;
    let mut conn = pool.acquire().await?;
    let first = args.month.first();
    let range = Range {
        from: first,
        to: first
            .checked_add_months(chrono::Months::new(1))
            .context("the month is out of range")?,
        step: Step::Month,
    };
    let report = revenue::report(&mut conn, None, range)
        .await
        .context("reading revenue")?;
    let stdout = std::io::stdout();
    write_csv(stdout.lock(), args.month, &report)?;
    Ok(())
}

/// Writes the report's rows (RFC 4180, a header row); rates are fractions, empty when their
/// denominator is zero, and so are ARPU and LTV.
fn write_csv(
    out: impl std::io::Write,
    month: Month,
    report: &revenue::Report,
) -> anyhow::Result<()> {
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    csv.write_record(COLUMNS)?;
    let text = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let whole = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for currency in &report.currencies {
        for i in &currency.intervals {
            csv.write_record([
                month.to_string(),
                currency.currency.clone(),
                i.mrr_start.to_string(),
                i.mrr_end.to_string(),
                i.new_mrr.to_string(),
                i.expansion_mrr.to_string(),
                i.contraction_mrr.to_string(),
                i.churned_mrr.to_string(),
                i.reactivated_mrr.to_string(),
                i.net_new_mrr.to_string(),
                i.arr.to_string(),
                i.subscribers_start.to_string(),
                i.subscribers_end.to_string(),
                i.churned_customers.to_string(),
                text(i.customer_churn_rate),
                text(i.revenue_churn_rate),
                whole(i.arpu),
                whole(i.ltv),
                i.payments.succeeded.to_string(),
                i.payments.failed.to_string(),
                text(i.payments.success_rate),
                i.gross_revenue.to_string(),
                i.refunds.to_string(),
                i.net_revenue.to_string(),
            ])?;
        }
    }
    csv.flush()?;
    Ok(())
}
