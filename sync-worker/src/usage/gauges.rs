//! Gauge levels the app sets: `PUT /v1/gauges/{customer}` with `{"projects": 3}`.
//!
//! A request names levels of gauge features only; anything else refuses the whole request and
//! changes nothing. Levels are stored and the customer's snapshot marked as lagging in one
//! transaction; a level that crosses `warn_at` or the limit asks for the rebuild at once.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::PgPool;
use std::collections::BTreeMap;
use tollgate_gate::{Catalog, FeatureType, Timestamp};

use super::UsageError;
use super::levels::{Judge, Level};
use crate::account;
use crate::db::{
    self,
    metered_customers::{self, Changed},
};

/// Why a gauge request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The body names features the catalog does not have.
    UnknownFeatures(Vec<String>),
    /// The body names features that are not gauges.
    NotGauges(Vec<String>),
    /// A level is not a whole number from 0 to 2^63 − 1.
    InvalidLevels(Vec<String>),
}

impl Refusal {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::UnknownFeatures(_) => "unknown_feature",
            Self::NotGauges(_) => "not_gauge",
            Self::InvalidLevels(_) => "invalid_amount",
        }
    }

    pub(crate) fn message(&self) -> String {
        let list = |keys: &[String]| {
            keys.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Self::UnknownFeatures(keys) => {
                format!("the catalog has no feature {}", list(keys))
            }
            Self::NotGauges(keys) => format!(
                "{} not a gauge: only gauge levels can be set",
                if keys.len() == 1 {
                    format!("{} is", list(keys))
                } else {
                    format!("{} are", list(keys))
                }
            ),
            Self::InvalidLevels(keys) => format!(
                "the level of {} must be a whole number from 0 to 9223372036854775807",
                list(keys)
            ),
        }
    }
}

/// Checks a request body against the catalog.
pub(crate) fn validate(
    catalog: &Catalog,
    body: &Map<String, Value>,
) -> Result<BTreeMap<String, u64>, Refusal> {
    let mut unknown = Vec::new();
    let mut not_gauges = Vec::new();
    let mut invalid = Vec::new();
    let mut levels = BTreeMap::new();
    for (feature, value) in body {
        match catalog.feature(feature).map(|f| f.kind) {
            None => unknown.push(feature.clone()),
            Some(FeatureType::Gauge) => match value.as_u64().filter(|n| *n <= i64::MAX as u64) {
                Some(level) => {
                    levels.insert(feature.clone(), level);
                }
                None => invalid.push(feature.clone()),
            },
            Some(_) => not_gauges.push(feature.clone()),
        }
    }
    if !unknown.is_empty() {
        Err(Refusal::UnknownFeatures(unknown))
    } else if !not_gauges.is_empty() {
        Err(Refusal::NotGauges(not_gauges))
    } else if !invalid.is_empty() {
        Err(Refusal::InvalidLevels(invalid))
    } else {
        Ok(levels)
    }
}

/// Stores `levels` for `customer`, audited as done by `by` (its actor, role and request id: the
/// row says `gauges.set` with the levels before and after); returns whether the snapshot
/// should be rebuilt at once.
pub(crate) async fn set(
    pool: &PgPool,
    catalog: &Catalog,
    customer: &str,
    levels: &BTreeMap<String, u64>,
    by: &db::audit::Entry<'_>,
    now: DateTime<Utc>,
) -> Result<Changed, UsageError> {
    let at = Timestamp::from(now);
    let mut tx = pool.begin().await?;
    let account = account::load_one(&mut tx, customer).await?;
    // Lock the customer's row first: concurrent updates of one customer's gauges serialise
    // here, so each judges its crossing against the level the other left.
    metered_customers::mark(
        &mut tx,
        &[Changed {
            customer: customer.to_owned(),
            urgent: false,
        }],
        now,
    )
    .await?;
    let stored = super::counts::gauges(&mut tx, customer).await?;
    let judge = Judge::new(catalog, &account, at)?;
    let mut urgent = false;
    for (feature, level) in levels {
        let old = stored.get(feature).copied().unwrap_or(0);
        let feature = judge.feature(feature, 0);
        urgent |= Level::of(&feature.decide(old)) != Level::of(&feature.decide(*level));
    }
    let features: Vec<&str> = levels.keys().map(String::as_str).collect();
    let values: Vec<i64> = levels.values().map(|v| *v as i64).collect();
    db::usage_gauges::set(&mut tx, customer, &features, &values, now).await?;
    let before: BTreeMap<&String, u64> = levels
        .keys()
        .map(|feature| (feature, stored.get(feature).copied().unwrap_or(0)))
        .collect();
    let (before, after) = (serde_json::to_value(before)?, serde_json::to_value(levels)?);
    let subject = format!("customer:{customer}");
    let entry = db::audit::Entry {
        action: "gauges.set",
        subject: &subject,
        customer: Some(customer),
        before: Some(&before),
        after: Some(&after),
        ..by.clone()
    };
    db::audit::record_entry(&mut tx, &entry, now).await?;
    let changed = Changed {
        customer: customer.to_owned(),
        urgent,
    };
    metered_customers::mark(&mut tx, std::slice::from_ref(&changed), now).await?;
    tx.commit().await?;
    Ok(changed)
}
