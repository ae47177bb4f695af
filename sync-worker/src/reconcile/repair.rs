//! Repairing one drifted object: Polar's version applied like a webhook, and audited.

use super::resource::Resource;
use crate::db;
use crate::polar::{Event, Object, PayloadError};
use crate::webhooks::{self, ApplyError, Status};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use tollgate_gate::Catalog;

/// The actor of every repair in the audit log.
pub(crate) const ACTOR: &str = "reconcile";
/// The audit action of a repair.
pub(crate) const ACTION: &str = "reconcile.repair";

/// How an object had drifted from Polar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drift {
    /// Polar has it; tollgate never stored it (a webhook was lost).
    Missing,
    /// Polar's version is newer than the stored one.
    Outdated,
    /// Polar no longer has it (deleted without a webhook reaching us).
    Deleted,
}

impl Drift {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Outdated => "outdated",
            Self::Deleted => "deleted",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RepairError {
    #[error("Polar's {resource} `{id}` is not an object tollgate reads: {source}")]
    Payload {
        resource: Resource,
        id: String,
        #[source]
        source: PayloadError,
    },
    #[error("applying Polar's {resource} `{id}` failed: {source}")]
    Apply {
        resource: Resource,
        id: String,
        #[source]
        source: ApplyError,
    },
    #[error("storing the repair of {resource} `{id}` failed: {source}")]
    Database {
        resource: Resource,
        id: String,
        #[source]
        source: sqlx::Error,
    },
}

/// Applies Polar's `after` for object `id` through the webhook path ([`webhooks::apply_and_rebuild`]: the
/// newer-version rule, embedded objects, snapshot rebuilds and outbox rows) and, when it changed
/// anything, writes the audit row with the version it replaced — all in one transaction.
/// Returns whether anything changed (a webhook may have delivered the same version meanwhile).
pub(crate) async fn repair(
    pool: &PgPool,
    catalog: &Catalog,
    resource: Resource,
    id: &str,
    drift: Drift,
    after: Value,
    now: DateTime<Utc>,
) -> Result<bool, RepairError> {
    let database = |source| RepairError::Database {
        resource,
        id: id.to_owned(),
        source,
    };
    let object = Object::from_api(resource.kind(), after.clone()).map_err(|source| {
        RepairError::Payload {
            resource,
            id: id.to_owned(),
            source,
        }
    })?;
    let event = Event {
        event_type: format!("reconcile.{}", resource.singular()),
        timestamp: None,
        object: Some(object),
    };
    let mut tx = pool.begin().await.map_err(database)?;
    let before = db::objects::lock(&mut tx, resource.table(), id)
        .await
        .map_err(database)?;
    let status = webhooks::apply_and_rebuild(&mut tx, catalog, &event, now)
        .await
        .map_err(|source| RepairError::Apply {
            resource,
            id: id.to_owned(),
            source,
        })?;
    if status != Status::Applied {
        tx.rollback().await.map_err(database)?;
        return Ok(false);
    }
    let details = json!({
        "resource": resource.as_str(),
        "id": id,
        "drift": drift.as_str(),
        "before": before,
        "after": after,
    });
    let subject = format!("{}:{id}", resource.singular());
    db::audit::record(&mut tx, ACTOR, ACTION, &subject, &details)
        .await
        .map_err(database)?;
    tx.commit().await.map_err(database)?;
    tracing::info!(
        resource = resource.as_str(),
        id,
        drift = drift.as_str(),
        "repaired drift from Polar"
    );
    Ok(true)
}

/// The object Polar would show for a customer it deleted: the stored one, marked deleted now.
pub(crate) fn deleted_customer(stored: &Value, now: DateTime<Utc>) -> Value {
    let mut deleted = stored.clone();
    if let Some(fields) = deleted.as_object_mut() {
        let stamp = Value::String(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        fields.insert("deleted_at".to_owned(), stamp.clone());
        fields.insert("modified_at".to_owned(), stamp);
    }
    deleted
}
