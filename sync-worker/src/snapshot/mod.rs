//! A customer's entitlement snapshot, rebuilt from what is stored.
//!
//! A rebuild gathers the customer's account ([`crate::account`]) and the usage counts of the
//! periods current at `now` ([`crate::usage::counts`]), lets the engine build the snapshot,
//! compares it with the current one (`Snapshot::same_entitlements`: when it was issued does
//! not count), and stores it as revision + 1 with an outbox row only when the entitlements
//! changed, with the events that change means for the app ([`crate::events`]). Each customer's
//! rebuilds are serialised by a per-customer advisory lock held to
//! the end of the transaction. Many customers are rebuilt together in the same few round trips
//! as one, which is what keeps a batch of webhooks cheap to apply.
//!
//! [`freshness`] keeps snapshots in step with usage without rebuilding one per event.

pub(crate) mod freshness;

use crate::{account, db, events};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::collections::BTreeSet;
use tollgate_gate::{Catalog, Snapshot, Timestamp, build_snapshot};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("a snapshot could not be serialised: {0}")]
    Serialize(#[source] serde_json::Error),
}

/// Rebuilds the snapshot of the customer with `external_id`. Returns the new revision, or
/// `None` when nothing the customer may do changed.
pub async fn rebuild(
    conn: &mut PgConnection,
    catalog: &Catalog,
    external_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, SnapshotError> {
    let customers = BTreeSet::from([external_id.to_owned()]);
    let changed = rebuild_many(conn, catalog, &customers, now).await?;
    Ok(changed.first().map(|(_, revision)| *revision))
}

/// Rebuilds the snapshots of `customers` (external ids) in a fixed number of round trips:
/// lock, accounts, current snapshots, usage, write. Returns the customers whose entitlements
/// changed, with their new revisions.
pub(crate) async fn rebuild_many(
    conn: &mut PgConnection,
    catalog: &Catalog,
    customers: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, SnapshotError> {
    if customers.is_empty() {
        return Ok(Vec::new());
    }
    // A set iterates in order: every rebuild locks customers in one global order.
    let ids: Vec<&str> = customers.iter().map(String::as_str).collect();
    db::snapshots::lock(conn, &ids).await?;
    let mut accounts = account::load(conn, &ids).await?;
    let current = db::snapshots::current_many(conn, &ids).await?;
    let at = now;
    let now = Timestamp::from(now);
    crate::usage::counts::fill_many(conn, catalog, &mut accounts, now).await?;
    let mut revisions = Vec::new();
    let mut events = Vec::new();
    for (mut account, current) in accounts.into_iter().zip(current) {
        let (revision, current) = current.unzip();
        let revision = revision.unwrap_or(0) + 1;
        account.revision = u64::try_from(revision).unwrap_or_default();
        let snapshot = build_snapshot(catalog, &account, now);
        // A stored snapshot this engine cannot read (an older schema) is simply replaced.
        let current = current.and_then(|current| serde_json::from_str::<Snapshot>(&current).ok());
        if current
            .as_ref()
            .is_some_and(|current| current.same_entitlements(&snapshot))
        {
            continue;
        }
        events.extend(events::detect::changes(current.as_ref(), &snapshot, now));
        revisions.push(db::snapshots::NewRevision {
            customer: account.customer,
            revision,
            snapshot: serde_json::to_string(&snapshot).map_err(SnapshotError::Serialize)?,
        });
    }
    db::snapshots::insert_and_enqueue(conn, &revisions).await?;
    events::record(conn, &events, at).await?;
    Ok(revisions
        .into_iter()
        .map(|new| (new.customer, new.revision))
        .collect())
}
