//! What tollgate's database holds once the storm is over.

use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How long the stored deliveries may take to be applied once the storm is over.
const SETTLE_WITHIN: Duration = Duration::from_secs(90);

/// The stored deliveries.
#[derive(Debug)]
pub struct Webhooks {
    /// Rows in `webhook_events`.
    pub rows: usize,
    /// Their distinct `webhook-id`s.
    pub ids: BTreeSet<String>,
    pub statuses: BTreeMap<String, usize>,
    /// Deliveries the service applied on a retry of its own (a first apply failed).
    pub retried: i64,
}

pub async fn webhooks(pool: &PgPool) -> Webhooks {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT webhook_id, status FROM webhook_events")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut statuses = BTreeMap::new();
    for (_, status) in &rows {
        *statuses.entry(status.clone()).or_default() += 1;
    }
    Webhooks {
        rows: rows.len(),
        ids: rows.into_iter().map(|(id, _)| id).collect(),
        statuses,
        retried: count(pool, "webhook_events WHERE attempts > 1").await,
    }
}

/// `SELECT count(*) FROM {from}`.
pub async fn count(pool: &PgPool, from: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {from}")))
        .fetch_one(pool)
        .await
        .unwrap();
    n
}

/// Waits until no stored delivery waits to be applied or retried (a delivery may be accepted
/// before it is applied, and one whose apply failed is retried by the service); returns how
/// long that took.
pub async fn settle(pool: &PgPool) -> Duration {
    let started = Instant::now();
    loop {
        let unsettled: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT webhook_id, status, last_error FROM webhook_events
             WHERE status IN ('pending', 'failed') ORDER BY id LIMIT 5",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        if unsettled.is_empty() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < SETTLE_WITHIN,
            "deliveries still pending or failed after {SETTLE_WITHIN:?}: {unsettled:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
