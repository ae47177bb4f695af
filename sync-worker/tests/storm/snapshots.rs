//! The stored snapshots against what the engine builds from Polar's truth.
//!
//! For every customer: the current snapshot has the entitlements the engine gives Polar's
//! subscriptions of that customer at the snapshot's `issued_at`, and no revision was written
//! without a change (each differs in entitlements from the one before it, and the revisions
//! count up from 1 without a gap).

use super::objects::Objects;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::BTreeMap;
use tollgate_gate::{Account, Catalog, Snapshot, build_snapshot};

/// What the check found.
#[derive(Debug, Default)]
pub struct Checked {
    pub customers: usize,
    pub revisions: usize,
    /// Customers by the plan of their current snapshot.
    pub plans: BTreeMap<String, usize>,
    pub problems: Vec<String>,
}

pub async fn check(pool: &PgPool, catalog: &Catalog, truth: &Objects) -> Checked {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT customer, revision, snapshot::text FROM entitlement_snapshots
         ORDER BY customer, revision",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut revisions: BTreeMap<String, Vec<(i64, Snapshot)>> = BTreeMap::new();
    for (customer, revision, snapshot) in rows {
        let snapshot: Snapshot = serde_json::from_str(&snapshot).unwrap();
        revisions
            .entry(customer)
            .or_default()
            .push((revision, snapshot));
    }
    let mut checked = Checked {
        revisions: revisions.values().map(Vec::len).sum(),
        ..Checked::default()
    };

    for (id, customer) in truth.of("customers") {
        let external_id = customer["external_id"].as_str().unwrap();
        checked.customers += 1;
        let Some(history) = revisions.remove(external_id) else {
            checked.problems.push(format!("{external_id}: no snapshot"));
            continue;
        };
        for (n, (revision, _)) in history.iter().enumerate() {
            if *revision != n as i64 + 1 {
                checked.problems.push(format!(
                    "{external_id}: revision {revision} where {} was due",
                    n + 1
                ));
            }
        }
        for pair in history.windows(2) {
            let ((_, before), (revision, after)) = (&pair[0], &pair[1]);
            if after.same_entitlements(before) {
                checked.problems.push(format!(
                    "{external_id}: revision {revision} changes nothing"
                ));
            }
        }
        let (_, current) = history.last().unwrap();
        *checked.plans.entry(current.plan.key.clone()).or_default() += 1;
        let expected = build_snapshot(catalog, &account(truth, id, external_id), current.issued_at);
        if !current.same_entitlements(&expected) {
            checked.problems.push(format!(
                "{external_id}: the current snapshot is not Polar's truth:\n  stored   {}\n  expected {}",
                serde_json::to_string(current).unwrap(),
                serde_json::to_string(&expected).unwrap()
            ));
        }
    }
    for customer in revisions.keys() {
        checked
            .problems
            .push(format!("{customer}: a snapshot of a customer Polar lacks"));
    }
    checked
}

/// The engine's input for a customer, from Polar's objects: its subscriptions, each carrying
/// its product. (The catalog's products carry no benefit that names a tollgate feature, so
/// no benefit grant adds to a limit.)
fn account(truth: &Objects, customer_id: &str, external_id: &str) -> Account {
    let subscriptions: Vec<&Value> = truth
        .of("subscriptions")
        .values()
        .filter(|s| s["customer_id"] == customer_id)
        .collect();
    serde_json::from_value(json!({
        "customer": external_id,
        "subscriptions": subscriptions,
    }))
    .unwrap()
}
