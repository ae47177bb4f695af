//! Full reconcile (daily, 02:00 UTC): every product, customer, subscription, order and benefit
//! grant, compared with Polar and repaired.

use super::Deps;
use super::scheduler::Finished;
use crate::reconcile::{Mode, Quiet, Report, Resource};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub const NAME: &str = "full_reconcile";

pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> anyhow::Result<Finished> {
    reconcile(deps, &Resource::ALL, Mode::Full, now).await
}

/// Reconciles `resources`, or skips when Polar is not configured; the counts of the run are
/// the totals and each resource's report.
pub(crate) async fn reconcile(
    deps: &Deps,
    resources: &[Resource],
    mode: Mode,
    now: DateTime<Utc>,
) -> anyhow::Result<Finished> {
    let Some(reconciler) = deps.reconciler() else {
        return Ok(Finished::Skipped(
            "POLAR_ORGANIZATION_TOKEN is not set".to_owned(),
        ));
    };
    let reports = reconciler.run(resources, mode, now, &Quiet).await?;
    Ok(Finished::Succeeded(counts(&reports)))
}

/// `{"fetched", "repaired", …, "resources": {"orders": {…}}}`.
pub(crate) fn counts(reports: &[(Resource, Report)]) -> Value {
    let mut total = Report::default();
    let mut each = serde_json::Map::new();
    for (resource, report) in reports {
        total.add(report);
        each.insert(
            resource.as_str().to_owned(),
            serde_json::to_value(report).unwrap_or_default(),
        );
    }
    let mut counts = serde_json::to_value(&total).unwrap_or_else(|_| json!({}));
    if let Some(fields) = counts.as_object_mut() {
        fields.insert("resources".to_owned(), Value::Object(each));
    }
    counts
}
