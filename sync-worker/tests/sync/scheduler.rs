//! The scheduler on a real database: two replicas of the service, sharing one database and one
//! Polar, run every job once per tick however their polls interleave; each run is recorded.

use crate::support;
use crate::support::FreshDatabase;
use chrono::{DateTime, Duration, Utc};
use polar_sim::{Action, RateLimit, Sim, SimConfig};
use secrecy::SecretString;
use serde_json::Value;
use std::collections::BTreeMap;
use tollgate_sync::jobs::{full_reconcile, health_check, order_sync};
use tollgate_sync::{App, Clock};

/// A `job_runs` row: job, tick, outcome, counts, finished_at.
type RunRow = (
    String,
    DateTime<Utc>,
    Option<String>,
    Value,
    Option<DateTime<Utc>>,
);

#[tokio::test]
async fn two_replicas_never_run_the_same_tick_twice() {
    let sim = Sim::start(SimConfig {
        seed_catalog: true,
        rate_limit: RateLimit::off(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.run(Action::Populate {
        customers: 150,
        product: "premium".to_owned(),
        prefix: "replica_".to_owned(),
    })
    .unwrap();

    let mut database = FreshDatabase::create().await;
    let replica = |clock: Clock| {
        let mut config = support::config(&database.url);
        config.polar.organization_token = Some(SecretString::from(sim.access_token().to_owned()));
        config.polar.api_url = Some(sim.base_url().to_owned());
        App::build_with_clock(config, clock)
    };
    // 03:00 UTC: the daily full reconcile of 02:00 is due, and every shorter job.
    let start: DateTime<Utc> = "2026-11-25T03:00:00Z".parse().unwrap();
    let clock = Clock::manual(start);
    let a = replica(clock.clone()).await.unwrap();
    let b = replica(clock.clone()).await.unwrap();
    let (a, b) = (a.scheduler(), b.scheduler());

    // Both replicas poll at the same instants, concurrently, over an hour and a half.
    let mut ran = Vec::new();
    for minutes in [0, 0, 4, 5, 9, 10, 29, 30, 30, 59, 60, 90] {
        let now = start + Duration::minutes(minutes);
        clock.set(now);
        let (from_a, from_b) = tokio::join!(a.run_due(now), b.run_due(now));
        ran.extend(from_a);
        ran.extend(from_b);
    }

    // Each (job, tick) ran exactly once, on one replica or the other.
    let mut per_tick: BTreeMap<(&str, DateTime<Utc>), usize> = BTreeMap::new();
    for run in &ran {
        *per_tick.entry((run.job, run.tick)).or_default() += 1;
        assert_eq!(run.outcome, "succeeded", "{run:?}");
    }
    assert!(per_tick.values().all(|&n| n == 1), "{per_tick:?}");
    let ticks = |job: &str| per_tick.keys().filter(|(j, _)| *j == job).count();
    assert_eq!(ticks(full_reconcile::NAME), 1);
    // Polled at :00 :04 :05 :09 | :10 | :29 | :30 :30 | :59 | 04:00 | 04:30.
    assert_eq!(ticks(health_check::NAME), 7);
    assert_eq!(ticks(order_sync::NAME), 4);

    // Each run's effect happened once: one full listing of the 150 customers (two pages), and
    // the orders' two pages listed by the full reconcile and by each of the 4 order syncs.
    let requests = sim.request_counts();
    assert_eq!(
        requests.get("GET /v1/customers").copied(),
        Some(2),
        "{requests:?}"
    );
    assert_eq!(
        requests.get("GET /v1/orders").copied(),
        Some(2 + 4 * 2),
        "{requests:?}"
    );

    // The runs are recorded with their outcome and counts.
    let pool = a.deps().pool.clone();
    let rows: Vec<RunRow> = sqlx::query_as(
        "SELECT job, tick, outcome, counts, finished_at FROM job_runs ORDER BY job, tick",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), per_tick.len());
    let full = rows
        .iter()
        .find(|(job, ..)| job == full_reconcile::NAME)
        .unwrap();
    assert_eq!(full.2.as_deref(), Some("succeeded"));
    // The full reconcile ran alongside the order sync, which stored many customers first (each
    // order embeds its customer): it listed them all and repaired the rest.
    assert_eq!(
        full.3["resources"]["customers"]["fetched"], 150,
        "{}",
        full.3
    );
    assert_eq!(
        full.3["resources"]["customers"]["requests"], 2,
        "{}",
        full.3
    );
    assert_eq!(full.3["failed"], 0, "{}", full.3);
    let (customers,): (i64,) = sqlx::query_as("SELECT count(*) FROM customers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(customers, 150);
    assert!(full.4.is_some());

    drop((a, b));
    pool.close().await;
    database.drop_now().await;
}
