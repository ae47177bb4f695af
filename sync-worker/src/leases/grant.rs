//! `POST /v1/leases`: up to `want` units of the period's budget, for the edge to spend.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use tollgate_gate::{Catalog, Timestamp, metered_periods};
use uuid::Uuid;

use super::{LeaseError, Refusal, refused, settle};
use crate::account;
use crate::db::{self, leases::Lease};
use crate::usage::counts::{self, to_unit};
use crate::usage::levels::Judge;

/// A lease request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) want: u64,
    pub(crate) ttl: std::time::Duration,
}

/// What was granted.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Lease)]
pub(crate) struct Granted {
    /// `None` when nothing was granted (nothing is left, or the plan refuses the feature).
    #[schema(value_type = Option<String>, format = "uuid")]
    pub(crate) id: Option<Uuid>,
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) granted: u64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(crate) expires_at: Option<DateTime<Utc>>,
    #[schema(value_type = String, format = DateTime)]
    pub(crate) period_start: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(crate) resets_at: Option<DateTime<Utc>>,
    /// The engine's Decision for the granted units (for `want` when none were), judged on the
    /// counter plus the open leases: its `remaining` is what is left after this grant.
    #[schema(value_type = Object)]
    pub(crate) decision: Value,
}

/// Grants up to `request.want` units of the current period at `now` (module docs, step 1).
pub(crate) async fn grant(
    pool: &PgPool,
    catalog: &Catalog,
    request: &Grant,
    now: DateTime<Utc>,
) -> Result<Granted, LeaseError> {
    exact(catalog, &request.feature)?;
    let at = Timestamp::from(now);
    let mut tx = pool.begin().await?;
    let account = account::load_one(&mut tx, &request.customer).await?;
    let Some(period) = metered_periods(catalog, &account, at)
        .get(&request.feature)
        .map(counts::stored)
    else {
        return Err(not_exact(&request.feature));
    };
    let (customer, feature) = (request.customer.as_str(), request.feature.as_str());
    let mut counted = db::usage_counters::lock(&mut tx, customer, feature, period, now).await?;
    // Settling expired leases moves the counter: read it again only when one was.
    if settle::expired_of(&mut tx, customer, feature, period, now).await? > 0 {
        counted = db::usage_counters::lock(&mut tx, customer, feature, period, now).await?;
    }
    let open = db::leases::open_units(&mut tx, customer, feature, period.start).await?;
    let judges = Judge::new(catalog, &account, at)?;
    let judge = judges.feature(feature, to_unit(counted.saturating_add(open)));
    let level = judge.decide(0);
    let granted = match (level.allowed, level.remaining) {
        (false, _) => 0,
        (true, None) => request.want,
        (true, Some(left)) => left.min(request.want),
    };
    let decision =
        serde_json::to_value(judge.decide(if granted > 0 { granted } else { request.want }))?;
    let lease = (granted > 0).then(|| Lease {
        id: Uuid::now_v7(),
        customer: request.customer.clone(),
        feature: request.feature.clone(),
        period_start: period.start,
        period_end: period.end,
        granted: i64::try_from(granted).unwrap_or(i64::MAX),
        expires_at: now + request.ttl,
        settled_at: None,
        used: None,
        settled_by: None,
    });
    if let Some(lease) = &lease {
        db::leases::insert(&mut tx, lease, now).await?;
    }
    tx.commit().await?;
    Ok(Granted {
        id: lease.as_ref().map(|l| l.id),
        customer: request.customer.clone(),
        feature: request.feature.clone(),
        granted,
        expires_at: lease.map(|l| l.expires_at),
        period_start: period.start,
        resets_at: period.end,
        decision,
    })
}

/// Only exact features are leased: the others are spent from the snapshot at the edge.
fn exact(catalog: &Catalog, feature: &str) -> Result<(), LeaseError> {
    match catalog.feature(feature) {
        None => Err(refused(
            Refusal::UnknownFeature,
            format!("feature `{feature}` is not in the catalog"),
        )),
        Some(f) if !f.exact => Err(not_exact(feature)),
        Some(_) => Ok(()),
    }
}

fn not_exact(feature: &str) -> LeaseError {
    refused(
        Refusal::NotExact,
        format!("feature `{feature}` is not exact: only features with `exact = true` are leased"),
    )
}
