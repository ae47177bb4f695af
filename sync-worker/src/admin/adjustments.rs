//! Usage adjustments: `POST /v1/admin/usage-adjustments` `{customer, feature, delta, reason}`.
//!
//! A signed change of the count of the metered feature's current period (the engine's period
//! at `now`), never below 0. In one transaction: the counter is locked (so a concurrent
//! `consume` decides on the adjusted count), moved, the adjustment stored as its own row with
//! what it actually applied, audited, and the snapshot rebuilt and queued for publication.

use super::{Actor, AdminError, known, reason};
use crate::db::{self, usage_counters::Key};
use crate::usage::counts;
use crate::{account, snapshot};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use tollgate_gate::{Catalog, FeatureType, Timestamp, metered_periods};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdjustmentRequest {
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) delta: Value,
    #[serde(default)]
    pub(crate) reason: Option<String>,
}

pub(crate) async fn create(
    pool: &PgPool,
    catalog: &Catalog,
    by: &Actor,
    request: &AdjustmentRequest,
    now: DateTime<Utc>,
) -> Result<Value, AdminError> {
    let reason = reason(request.reason.as_deref())?;
    match catalog.feature(&request.feature).map(|f| f.kind) {
        None => {
            return Err(AdminError::refused(
                422,
                "unknown_feature",
                format!("the catalog has no feature `{}`", request.feature),
            ));
        }
        Some(FeatureType::Metered) => {}
        Some(_) => {
            return Err(AdminError::refused(
                422,
                "not_metered",
                format!(
                    "`{}` is not metered: only a metered count can be adjusted",
                    request.feature
                ),
            ));
        }
    }
    let delta = request
        .delta
        .as_i64()
        .filter(|delta| *delta != 0)
        .ok_or_else(|| {
            AdminError::refused(
                422,
                "invalid_delta",
                format!(
                    "`delta` is a whole number other than 0, such as 250 or -250; {} is not",
                    request.delta
                ),
            )
        })?;
    let mut tx = pool.begin().await?;
    known(&mut tx, &request.customer).await?;
    let account = account::load_one(&mut tx, &request.customer).await?;
    let at = Timestamp::from(now);
    let Some(period) = metered_periods(catalog, &account, at)
        .get(&request.feature)
        .map(counts::stored)
    else {
        return Err(AdminError::refused(
            422,
            "not_metered",
            format!("`{}` has no current period", request.feature),
        ));
    };
    let used =
        db::usage_counters::lock(&mut tx, &request.customer, &request.feature, period, now).await?;
    let after = used.saturating_add(delta).max(0);
    let applied = after - used;
    if applied != 0 {
        let key = Key {
            customer: &request.customer,
            feature: &request.feature,
            period_start: period.start,
        };
        db::usage_counters::set(&mut tx, &key, after, now).await?;
    }
    let row = db::usage_adjustments::insert(
        &mut tx,
        &db::usage_adjustments::NewAdjustment {
            customer: &request.customer,
            feature: &request.feature,
            period_start: period.start,
            delta,
            applied,
            used_after: after,
            reason,
            created_by: &by.actor,
        },
        now,
    )
    .await?;
    let subject = format!("usage_adjustment:{}", row.id);
    let before_json = json!({ "feature": request.feature, "used": used });
    let after_json = json!({ "feature": request.feature, "used": after });
    let mut entry = by.entry("usage.adjust", &subject, Some(&request.customer));
    entry.before = Some(&before_json);
    entry.after = Some(&after_json);
    entry.reason = Some(reason);
    entry.details = json!({ "delta": delta, "applied": applied, "period_start": period.start });
    db::audit::record_entry(&mut tx, &entry, now).await?;
    let revision = snapshot::rebuild(&mut tx, catalog, &request.customer, now).await?;
    tx.commit().await?;
    Ok(json!({
        "id": row.id,
        "customer": row.customer,
        "feature": row.feature,
        "delta": delta,
        "applied": applied,
        "used": after,
        "period_start": period.start,
        "resets_at": period.end,
        "reason": row.reason,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "revision": revision,
    }))
}
