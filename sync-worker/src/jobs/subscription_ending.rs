//! Subscription ending (hourly): `subscription.ending` for subscriptions that cancel at a period
//! end now less than three days away. A snapshot rebuild reports it too when one happens in
//! that window; this job covers the subscriptions that reach it without any change. The event
//! id is the same either way, so it is stored once.

use super::Deps;
use super::scheduler::Finished;
use crate::db;
use crate::events::{self, ENDING_NOTICE};
use chrono::{DateTime, Utc};
use serde_json::json;
use tollgate_gate::{Snapshot, Timestamp};

pub const NAME: &str = "subscription_ending";

pub async fn run_once(deps: &Deps, now: DateTime<Utc>) -> anyhow::Result<Finished> {
    let mut tx = deps.pool.begin().await?;
    let customers = db::subscriptions::ending_between(&mut tx, now, now + ENDING_NOTICE).await?;
    let ids: Vec<&str> = customers.iter().map(String::as_str).collect();
    let mut found = Vec::new();
    for current in db::snapshots::current_many(&mut tx, &ids)
        .await?
        .into_iter()
        .flatten()
    {
        let (_, snapshot) = current;
        // A snapshot of an older schema is left to its next rebuild.
        if let Ok(snapshot) = serde_json::from_str::<Snapshot>(&snapshot) {
            found.extend(events::detect::ending(&snapshot, Timestamp::from(now)));
        }
    }
    let queued = events::record(&mut tx, &found, now).await?;
    tx.commit().await?;
    Ok(Finished::Succeeded(json!({
        "customers": customers.len(),
        "queued": queued,
    })))
}
