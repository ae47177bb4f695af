//! A customer's entitlement snapshot, rebuilt from what is stored.
//!
//! The engine (`tollgate_gate::build_snapshot`) is the only implementation of the plan and
//! status rules; this module only gathers its input. A customer is the app's user id (Polar's
//! `external_id`): their subscriptions, each carrying the newest stored version of its product,
//! the held benefit grants that name a tollgate feature, the usage counts of the current
//! periods and the gauge levels ([`crate::usage`]).
//!
//! A rebuild takes a per-customer advisory lock for the rest of the transaction, compares the
//! new snapshot with the current one (`Snapshot::same_entitlements`: when it was issued does not
//! count), and stores it as revision + 1 with an outbox row only when the entitlements changed.
//! Many customers are rebuilt together in the same few round trips as one, which is what keeps
//! a batch of webhooks cheap to apply.

use crate::db;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgConnection;
use std::collections::BTreeSet;
use tollgate_gate::{Account, Catalog, Snapshot, Timestamp, build_snapshot};

/// A benefit with this metadata key adds to the named feature's limit while its grant is held.
pub const GRANT_FEATURE_KEY: &str = "tollgate_feature";
/// How much the benefit adds: a number, `"unlimited"`, or `true` (the default, for booleans).
pub const GRANT_AMOUNT_KEY: &str = "tollgate_amount";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(
        "the stored data of customer `{customer}` is not an account the engine reads: {source}"
    )]
    Account {
        customer: String,
        #[source]
        source: serde_json::Error,
    },
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
/// lock, read, usage, write. Returns the customers whose entitlements changed, with their new
/// revisions.
pub async fn rebuild_many(
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
    let stored = db::snapshots::load(conn, &ids).await?;
    let mut accounts = Vec::with_capacity(stored.len());
    let mut current = Vec::with_capacity(stored.len());
    for stored in stored {
        let revision = stored.revision.unwrap_or(0) + 1;
        accounts.push(Account {
            customer: stored.customer,
            subscriptions: stored.subscriptions,
            usage: Default::default(),
            gauges: Default::default(),
            grants: stored
                .grants
                .iter()
                .filter_map(grant_of)
                .filter_map(|grant| serde_json::from_value(grant).ok())
                .collect(),
            revision: u64::try_from(revision).unwrap_or_default(),
        });
        current.push((revision, stored.snapshot));
    }
    let now = Timestamp::from(now);
    crate::usage::counts::fill_many(conn, catalog, &mut accounts, now).await?;
    let mut revisions = Vec::new();
    for (account, (revision, current)) in accounts.iter().zip(current) {
        let snapshot = build_snapshot(catalog, account, now);
        // A stored snapshot this engine cannot read (an older schema) is simply replaced.
        if current
            .and_then(|current| serde_json::from_str::<Snapshot>(&current).ok())
            .is_some_and(|current| current.same_entitlements(&snapshot))
        {
            continue;
        }
        revisions.push(db::snapshots::NewRevision {
            customer: account.customer.clone(),
            revision,
            snapshot: serde_json::to_string(&snapshot).map_err(SnapshotError::Serialize)?,
        });
    }
    db::snapshots::insert_and_enqueue(conn, &revisions).await?;
    Ok(revisions
        .into_iter()
        .map(|new| (new.customer, new.revision))
        .collect())
}

/// Everything the engine reads about the customer with `external_id` at `now`: subscriptions,
/// held grants, the usage counts of the periods current at `now`, and gauge levels.
pub async fn account(
    conn: &mut PgConnection,
    catalog: &Catalog,
    external_id: &str,
    now: DateTime<Utc>,
) -> Result<Account, SnapshotError> {
    let subscriptions = db::subscriptions::of_customer(conn, external_id).await?;
    let grants = db::benefit_grants::held_by(conn, external_id).await?;
    let mut account = base_account(external_id, subscriptions, &grants)?;
    crate::usage::counts::fill(conn, catalog, &mut account, Timestamp::from(now)).await?;
    Ok(account)
}

/// The account of `external_id` from its stored subscriptions (each with the newest stored
/// version of its product) and held benefit grants, without usage.
pub fn base_account(
    external_id: &str,
    subscriptions: Vec<(Value, Option<Value>)>,
    grants: &[Value],
) -> Result<Account, SnapshotError> {
    let subscriptions = subscriptions
        .into_iter()
        .map(|(mut subscription, product)| {
            if let (Some(product), Some(fields)) = (product, subscription.as_object_mut()) {
                fields.insert("product".to_owned(), product);
            }
            subscription
        })
        .collect::<Vec<_>>();
    let grants = grants.iter().filter_map(grant_of).collect::<Vec<_>>();
    serde_json::from_value(json!({
        "customer": external_id,
        "subscriptions": subscriptions,
        "grants": grants,
    }))
    .map_err(|source| SnapshotError::Account {
        customer: external_id.to_owned(),
        source,
    })
}

/// The engine grant a held Polar benefit grant gives, when its benefit's metadata names a
/// feature (`tollgate_feature`, optional `tollgate_amount`).
fn grant_of(raw: &Value) -> Option<Value> {
    let metadata = raw.get("benefit")?.get("metadata")?;
    let feature = metadata.get(GRANT_FEATURE_KEY)?.as_str()?;
    let amount = match metadata.get(GRANT_AMOUNT_KEY) {
        None | Some(Value::Bool(true)) => json!(true),
        Some(Value::Number(n)) => json!(n.as_u64()?),
        Some(Value::String(s)) if s == "unlimited" => json!("unlimited"),
        Some(Value::String(s)) => json!(s.trim().parse::<u64>().ok()?),
        Some(_) => return None,
    };
    Some(json!({ "feature": feature, "amount": amount, "expires_at": null }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn tagged_benefits_become_grants() {
        let grant = |metadata: Value| grant_of(&json!({"benefit": {"metadata": metadata}}));
        assert_eq!(grant(json!({})), None);
        assert_eq!(
            grant(json!({"tollgate_feature": "api_calls", "tollgate_amount": 5000})).unwrap()["amount"],
            json!(5000)
        );
        assert_eq!(
            grant(json!({"tollgate_feature": "api_calls", "tollgate_amount": "5000"})).unwrap()["amount"],
            json!(5000)
        );
        assert_eq!(
            grant(json!({"tollgate_feature": "seats", "tollgate_amount": "unlimited"})).unwrap()["amount"],
            json!("unlimited")
        );
        assert_eq!(
            grant(json!({"tollgate_feature": "priority_support"})).unwrap()["amount"],
            json!(true)
        );
        assert_eq!(
            grant(json!({"tollgate_feature": "x", "tollgate_amount": -3})),
            None
        );
    }
}
