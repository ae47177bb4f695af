//! The storm: a thousand customers' lifecycles in the Polar simulator, every webhook delivered
//! up to three times in a shuffled order over several connections, the real `tollgate serve`
//! killed with SIGKILL twice mid-stream and its PostgreSQL crashed and restarted once, then one
//! reconcile. Afterwards every object tollgate stores equals Polar's, every webhook is stored
//! exactly once, and every customer's snapshot is what the engine makes of Polar's truth:
//! nothing lost, nothing applied twice.
//!
//! ```text
//! cargo test -p tollgate-sync --test storm -- --nocapture
//! ```
//!
//! `TOLLGATE_STORM_CUSTOMERS` (default 1000) sets the number of customers and
//! `TOLLGATE_STORM_SEED` repeats a run (the seed is printed).

// clippy.toml lets `#[test]` functions unwrap and panic; this lets their helpers too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod cluster;
#[path = "../common/database.rs"]
mod database;
mod deliveries;
mod lifecycles;
mod objects;
mod report;
mod service;
mod snapshots;
mod stored;

use cluster::Cluster;
use database::FreshDatabase;
use deliveries::Sender;
use objects::Objects;
use polar_sim::webhook::delivery::EVENT_LOG_CAPACITY;
use polar_sim::{RateLimit, SecretScheme, Sim, SimConfig, SimHandle};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use report::{Report, first};
use service::Service;
use sqlx::postgres::PgPoolOptions;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tollgate_gate::Catalog;

/// Concurrent connections delivering webhooks.
const CONNECTIONS: usize = 8;

/// What crashes, and when: once this many sixths of the deliveries were accepted.
const CRASHES: [(usize, Crash); 3] = [
    (2, Crash::Service),
    (3, Crash::Postgres),
    (4, Crash::Service),
];

#[derive(Clone, Copy)]
enum Crash {
    /// `tollgate serve` gets SIGKILL, then starts again.
    Service,
    /// PostgreSQL stops as in a crash, then starts again (and recovers).
    Postgres,
}

pub fn catalog_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/catalog.toml"
    ))
}

fn setting(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_redelivered_shuffled_webhooks_through_crashes_loses_nothing() {
    let started = Instant::now();
    let customers = setting("TOLLGATE_STORM_CUSTOMERS").unwrap_or(1000) as usize;
    let seed = setting("TOLLGATE_STORM_SEED").unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    println!("storm: {customers} customers, seed {seed} (TOLLGATE_STORM_SEED={seed} repeats it)");

    // Polar: every lifecycle runs first; with no endpoint set, the simulator records each
    // webhook (its id and exact body) for the storm to deliver.
    let sim = Sim::start(SimConfig {
        seed_catalog: true,
        rate_limit: RateLimit::off(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let steps = lifecycles::run(&sim, customers, &mut rng);
    let events = sim.webhook_events();
    assert!(
        events.len() < EVENT_LOG_CAPACITY,
        "the simulator keeps {EVENT_LOG_CAPACITY} webhooks: fewer TOLLGATE_STORM_CUSTOMERS"
    );
    let emitted: BTreeSet<String> = events.iter().map(|e| e.webhook_id.clone()).collect();
    let order = deliveries::shuffled_copies(events.len(), &mut rng);

    // tollgate: the real binary on a private PostgreSQL cluster.
    let cluster = Cluster::start();
    let database = FreshDatabase::create_on(&cluster.server_url(), "tollgate_storm").await;
    let database_url = format!("{}?sslmode=disable", database.url);
    let secret = polar_sim::generate_secret(SecretScheme::Standard);
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("storm-tollgate.log");
    let mut service = Service::start(&database_url, &secret, cluster::free_port(), log).await;
    println!("  tollgate serve log   {}", service.log.display());

    let key = polar_sim::signing_key(&secret, SecretScheme::Standard).unwrap();
    let url = format!("{}/webhooks/polar", service.url());
    let sender = Arc::new(Sender::new(url, key, events, order));
    let stormed = Instant::now();
    let postgres_restarts = storm(&sender, &mut service, &cluster).await;
    let stormed = stormed.elapsed();
    service.assert_running();

    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&database_url)
        .await
        .unwrap();
    let settled = stored::settle(&pool).await;
    let webhooks = stored::webhooks(&pool).await;

    // Polar's truth against what is stored, before and after the reconcile.
    let catalog = Catalog::parse(&std::fs::read_to_string(catalog_path()).unwrap()).unwrap();
    let truth = Objects::in_polar(&sim).await;
    let drift = truth.differences(&Objects::in_database(&pool).await);
    let snapshots_before = snapshots::check(&pool, &catalog, &truth).await;
    let reconciled = reconcile(&database_url, &sim).await;
    let differences = truth.differences(&Objects::in_database(&pool).await);
    let snapshots = snapshots::check(&pool, &catalog, &truth).await;

    let rejected = sender.tally.rejected.lock().unwrap().clone();
    Report {
        steps: &steps,
        emitted: emitted.len(),
        deliveries: sender.len(),
        connections: CONNECTIONS,
        stormed,
        tally: &sender.tally,
        kills: service.kills,
        postgres_restarts,
        webhooks: &webhooks,
        settled,
        polar: truth.counts(),
        drift: drift.len(),
        snapshot_problems: snapshots_before.problems.len(),
        reconcile: &reconciled,
        repaired: stored::count(&pool, "audit_log WHERE action = 'reconcile.repair'").await,
        snapshots: &snapshots,
        outbox: stored::count(&pool, "publish_outbox").await,
        elapsed: started.elapsed(),
    }
    .print();

    assert!(rejected.is_empty(), "refused deliveries: {rejected:#?}");
    assert_eq!(
        webhooks.rows,
        webhooks.ids.len(),
        "a webhook-id stored twice"
    );
    let lost: Vec<_> = emitted.difference(&webhooks.ids).collect();
    assert!(lost.is_empty(), "{} webhooks lost: {lost:?}", lost.len());
    let unknown: Vec<_> = webhooks.ids.difference(&emitted).collect();
    assert!(unknown.is_empty(), "webhooks Polar never sent: {unknown:?}");
    // Every delivery was retried until acknowledged, so nothing should be left to repair.
    assert!(
        drift.is_empty(),
        "before the reconcile, stored objects differ from Polar's:\n{}",
        first(&drift)
    );
    assert!(
        snapshots_before.problems.is_empty(),
        "before the reconcile, snapshots differ from Polar's truth:\n{}",
        first(&snapshots_before.problems)
    );
    assert!(
        differences.is_empty(),
        "after the reconcile, stored objects differ from Polar's:\n{}",
        first(&differences)
    );
    assert!(
        snapshots.problems.is_empty(),
        "after the reconcile, snapshots differ from Polar's truth:\n{}",
        first(&snapshots.problems)
    );
    assert_eq!(snapshots.customers, truth.of("customers").len());
    assert_eq!(
        stored::count(&pool, "publish_outbox").await as usize,
        snapshots.revisions,
        "one outbox row per snapshot revision"
    );
    pool.close().await;
}

/// Makes every delivery while crashing the service and PostgreSQL mid-stream ([`CRASHES`]).
/// Each outage lasts until every connection has had an attempt fail, so deliveries pile up
/// for their retries. Returns how often PostgreSQL was restarted.
async fn storm(sender: &Arc<Sender>, service: &mut Service, cluster: &Cluster) -> usize {
    let total = sender.len();
    let (mut accepted, mut failures) = (sender.progress(), sender.failures());
    let mut senders = sender.start(CONNECTIONS);
    let mut postgres_restarts = 0;
    for (sixths, crash) in CRASHES {
        reach(&mut accepted, total * sixths / 6, "deliveries accepted").await;
        let failed_before = *failures.borrow();
        match crash {
            Crash::Service => service.kill().await,
            Crash::Postgres => tokio::task::block_in_place(|| cluster.crash()),
        }
        let felt = failed_before + CONNECTIONS;
        reach(&mut failures, felt, "attempts failed in the outage").await;
        match crash {
            Crash::Service => service.start_again().await,
            Crash::Postgres => {
                tokio::task::block_in_place(|| cluster.start_again());
                postgres_restarts += 1;
            }
        }
    }
    while let Some(sent) = senders.join_next().await {
        sent.unwrap();
    }
    postgres_restarts
}

/// Waits until `counter` reaches `at`; a storm that stops short of it fails the test.
async fn reach(counter: &mut watch::Receiver<usize>, at: usize, what: &str) {
    let reached = counter.wait_for(|n| *n >= at);
    match tokio::time::timeout(Duration::from_secs(300), reached).await {
        Ok(reached) => {
            reached.unwrap();
        }
        Err(_) => panic!("the storm stalled short of {at} {what}"),
    }
}

/// Runs `tollgate reconcile` against the simulator; returns its summary line.
async fn reconcile(database_url: &str, sim: &SimHandle) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("reconcile")
        .env("DATABASE_URL", database_url)
        .env("TOLLGATE_CATALOG", catalog_path())
        .env("POLAR_ORGANIZATION_TOKEN", sim.access_token())
        .env("POLAR_API_URL", sim.base_url())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        output.status.success(),
        "tollgate reconcile failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
