//! Reconciling N customers with a subscription each against the Polar simulator.
//!
//! Starts an in-process `polar-sim` holding N customers, each with a subscription, its order
//! and benefit grants, and a fresh database, then times three full reconciles:
//!
//! 1. **cold**: an empty database, so every object is missing and repaired (applied, audited,
//!    snapshots built and queued);
//! 2. **in sync**: nothing drifted, so only listing and diffing;
//! 3. **1 % drift**: 1 % of the subscriptions changed in Polar without a webhook.
//!
//! For each it reports the time and the list requests per resource as counted by the
//! simulator, which must be ⌈N/100⌉ (the benchmark fails otherwise).
//!
//! ```text
//! cargo bench -p tollgate-sync --bench reconcile
//! ```
//!
//! Settings (environment): `TOLLGATE_BENCH_CUSTOMERS` (default 10000), `TOLLGATE_TEST_POSTGRES`
//! (default postgres://postgres@127.0.0.1:5432).

// Benchmarks are not tests to clippy: a failed step should stop the run loudly all the same.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use polar_sim::{Action, RateLimit, Sim, SimConfig, SimHandle, SubscriptionStatus};
use secrecy::SecretString;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use tollgate_sync::db::MIGRATOR;
use tollgate_sync::polar_client::{ClientConfig, PolarClient};
use tollgate_sync::reconcile::{Mode, Quiet, Reconciler, Report, Resource};
use tollgate_sync::{Clock, app};

#[path = "../tests/common/database.rs"]
mod database;
use database::{FreshDatabase, server_url};

#[tokio::main]
async fn main() {
    let customers: u64 = std::env::var("TOLLGATE_BENCH_CUSTOMERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let sim = Sim::start(SimConfig {
        seed_catalog: true,
        rate_limit: RateLimit::off(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let populated = Instant::now();
    sim.run(Action::Populate {
        customers: u32::try_from(customers).unwrap(),
        product: "premium".to_owned(),
        prefix: "bench_".to_owned(),
    })
    .unwrap();
    println!(
        "simulator: {customers} customers with a subscription each, populated in {:.1} s",
        populated.elapsed().as_secs_f64()
    );

    let mut database = FreshDatabase::create_on(&server_url(), "tollgate_bench").await;
    let pool = PgPool::connect(&database.url).await.unwrap();
    MIGRATOR.run(&pool).await.unwrap();
    let catalog = app::load_catalog(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/catalog.toml"
    )))
    .unwrap();
    let polar = PolarClient::with_clock(
        ClientConfig::new(
            sim.base_url(),
            SecretString::from(sim.access_token().to_owned()),
        ),
        Clock::system(),
    )
    .unwrap();
    let reconciler = Reconciler {
        pool: pool.clone(),
        catalog: Arc::new(catalog),
        polar,
    };

    round("cold (empty database)", &sim, &reconciler, customers).await;
    round("in sync (no drift)", &sim, &reconciler, customers).await;
    let drifted = drift(&sim, customers / 100);
    let report = round("1 % drift", &sim, &reconciler, customers).await;
    assert_eq!(
        report.outdated, drifted,
        "every drifted subscription repaired"
    );

    pool.close().await;
    database.drop_now().await;
}

/// Cancels `count` subscriptions in the simulator without a webhook.
fn drift(sim: &SimHandle, count: u64) -> u64 {
    for n in 0..count {
        sim.drift(Action::DriftSubscription {
            subscription: format!("bench_{}", n * 100),
            status: Some(SubscriptionStatus::Canceled),
            product: None,
            cancel_at_period_end: None,
            current_period_end: None,
        })
        .unwrap();
    }
    count
}

async fn round(label: &str, sim: &SimHandle, reconciler: &Reconciler, customers: u64) -> Report {
    sim.reset_request_counts();
    let started = Instant::now();
    let reports = reconciler
        .run(&Resource::ALL, Mode::Full, chrono::Utc::now(), &Quiet)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let counts: BTreeMap<String, u64> = sim.request_counts();
    let pages = customers.div_ceil(100);
    let mut total = Report::default();
    println!("\n{label}: {:.1} s", elapsed.as_secs_f64());
    for (resource, report) in &reports {
        total.add(report);
        let path = resource.list_path().trim_end_matches('/');
        let lists = counts.get(&format!("GET {path}")).copied().unwrap_or(0);
        println!(
            "  {:<15} fetched {:>6}  repaired {:>6}  list requests {:>4}",
            resource.as_str(),
            report.fetched,
            report.repaired,
            lists
        );
        if matches!(resource, Resource::Customers | Resource::Subscriptions) {
            assert_eq!(lists, pages, "{resource}: list requests must be ⌈N/100⌉");
        }
    }
    assert_eq!(total.failed, 0);
    println!(
        "  total           fetched {:>6}  repaired {:>6}  requests {:>4}  ({:.0} objects/s)",
        total.fetched,
        total.repaired,
        total.requests,
        total.fetched as f64 / elapsed.as_secs_f64()
    );
    total
}
