//! The soak: minutes of mixed load on one release `tollgate serve` against the Polar simulator
//! and PostgreSQL, then the end state compared with the truth. A script, not a test: run it
//! with `scripts/soak` (which builds the release binary first).
//!
//! - Polar: a thousand customers' lifecycles run in the simulator first (the storm's); their
//!   webhooks are delivered signed, in bursts every minute larger than the applier's queues
//!   (so its lanes fall behind and catch up from the database), one delivery in ten a repeat
//!   of an earlier one.
//! - Apps, all along at a steady rate: usage batches (one in ten sent again), checks, support
//!   reads (search, the support view) and entitlement reads.
//! - Every 30 s: throughput, p50/p99 per kind, refusals by code, the server's RSS and the
//!   applier's backlog.
//! - At the end: every webhook stored once and applied, the stored objects and snapshots equal
//!   to the simulator's truth, the usage counters equal to the usage sent, and the RSS flat.
//!   Any mismatch exits with status 1.
//!
//! Settings (environment): `TOLLGATE_SOAK_SECONDS` (600), `TOLLGATE_SOAK_CUSTOMERS` (1000),
//! `TOLLGATE_SOAK_RATE` (app requests per second, 100), `TOLLGATE_SOAK_SEED`,
//! `TOLLGATE_BIN` (the `tollgate` binary; default `target/release/tollgate`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a load script: a broken assumption should stop it loudly"
)]

#[path = "../../tests/common/database.rs"]
mod database;
#[path = "../../tests/storm/lifecycles.rs"]
mod lifecycles;
#[path = "../../tests/storm/objects.rs"]
mod objects;
mod server;
#[path = "../../tests/storm/snapshots.rs"]
mod snapshots;
mod stats;
#[path = "../../tests/storm/stored.rs"]
mod stored;
mod usage;
mod webhooks;

use database::FreshDatabase;
use objects::Objects;
use polar_sim::webhook::delivery::EVENT_LOG_CAPACITY;
use polar_sim::{RateLimit, SecretScheme, Sim, SimConfig};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::json;
use server::{API_TOKEN, Server};
use sqlx::postgres::PgPoolOptions;
use stats::Stats;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tollgate_gate::Catalog;
use usage::Usage;
use webhooks::Webhooks;

const REPORT_EVERY: Duration = Duration::from_secs(30);
const BURST_EVERY: Duration = Duration::from_secs(60);
/// Connections a burst of webhooks uses at once.
const BURST_CONNECTIONS: usize = 16;
/// Customers that send usage (free users Polar does not know).
const USAGE_CUSTOMERS: usize = 200;
/// How much the RSS of the second half may exceed the first half's peak and still be flat.
const RSS_GROWTH_ALLOWED: f64 = 1.25;

pub fn catalog_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/catalog.toml"
    ))
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number"))
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let seconds = setting("TOLLGATE_SOAK_SECONDS", 600);
    let customers = setting("TOLLGATE_SOAK_CUSTOMERS", 1000) as usize;
    let rate = setting("TOLLGATE_SOAK_RATE", 100).max(1);
    let seed = setting("TOLLGATE_SOAK_SEED", rand::random());
    let binary = std::env::var("TOLLGATE_BIN").map_or_else(
        |_| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/release/tollgate"
            ))
        },
        PathBuf::from,
    );
    let mut rng = StdRng::seed_from_u64(seed);
    println!(
        "soak: {seconds} s, {customers} Polar customers, {rate} app requests/s, seed {seed}, {}",
        binary.display()
    );

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
        "fewer TOLLGATE_SOAK_CUSTOMERS"
    );
    println!("  Polar: {} webhooks from {steps:?}", events.len());

    let database = FreshDatabase::create_on(&database::server_url(), "tollgate_soak").await;
    let secret = polar_sim::generate_secret(SecretScheme::Standard);
    let log = std::env::temp_dir().join("tollgate-soak-serve.log");
    let database_url = format!("{}?sslmode=disable", database.url);
    let mut server = Server::start(&binary, &database_url, &secret, server::free_port(), log).await;
    println!(
        "  tollgate serve at {} (log {})",
        server.url,
        server.log.display()
    );
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&database_url)
        .await
        .unwrap();

    let stats = Arc::new(Stats::default());
    let key = polar_sim::signing_key(&secret, SecretScheme::Standard).unwrap();
    let hooks = Arc::new(Webhooks::new(
        format!("{}/webhooks/polar", server.url),
        key,
        events,
    ));
    let usage = Arc::new(Usage::new(&server.url, API_TOKEN, USAGE_CUSTOMERS));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);

    let bursts = (seconds / BURST_EVERY.as_secs()).max(1) as usize;
    let per_burst = hooks.total().div_ceil(bursts);
    let burster = {
        let (hooks, stats) = (Arc::clone(&hooks), Arc::clone(&stats));
        tokio::spawn(async move {
            for burst in 0..bursts {
                let at = started + BURST_EVERY * burst as u32 + Duration::from_secs(5);
                tokio::time::sleep_until(at.into()).await;
                hooks.burst(per_burst, BURST_CONNECTIONS, &stats).await;
            }
        })
    };
    let app = tokio::spawn(app_load(
        server.url.clone(),
        rate,
        customers,
        deadline,
        Arc::clone(&stats),
        Arc::clone(&usage),
    ));

    let mut rss = Vec::new();
    let mut last = Instant::now();
    while Instant::now() < deadline {
        let next = (last + REPORT_EVERY).min(deadline);
        tokio::time::sleep_until(next.into()).await;
        server.assert_running();
        let mut window = stats.take_interval();
        let took = last.elapsed().as_secs_f64();
        last = Instant::now();
        let backlog = stored::count(&pool, "webhook_events WHERE status = 'pending'").await;
        let mib = server.rss_mib();
        rss.push(mib);
        println!(
            "[{:>4} s] RSS {mib:.1} MiB, webhooks pending {backlog}, new webhooks left {}",
            started.elapsed().as_secs(),
            hooks.left()
        );
        for line in window.lines(took) {
            println!("    {line}");
        }
        for (error, n) in &window.errors {
            println!("    refused: {error} ×{n}");
        }
    }
    app.await.unwrap();
    burster.await.unwrap();
    // Whatever a slow burst left undelivered goes now, so Polar's every event arrives.
    hooks.burst(usize::MAX, BURST_CONNECTIONS, &stats).await;
    let loaded = started.elapsed();
    let settled = stored::settle(&pool).await;
    server.assert_running();
    rss.push(server.rss_mib());

    let mut problems = Vec::new();
    let webhooks = stored::webhooks(&pool).await;
    let emitted: std::collections::BTreeSet<String> = sim
        .webhook_events()
        .into_iter()
        .map(|e| e.webhook_id)
        .collect();
    if webhooks.rows != webhooks.ids.len() {
        problems.push(format!(
            "{} rows for {} webhook ids",
            webhooks.rows,
            webhooks.ids.len()
        ));
    }
    let lost = emitted.difference(&webhooks.ids).count();
    if lost > 0 {
        problems.push(format!("{lost} webhooks lost"));
    }
    let refused = hooks.refused.lock().unwrap().clone();
    if !refused.is_empty() {
        problems.push(format!(
            "{} genuine deliveries refused: {:?}",
            refused.len(),
            &refused[..refused.len().min(3)]
        ));
    }

    let catalog = Catalog::parse(&std::fs::read_to_string(catalog_path()).unwrap()).unwrap();
    let truth = Objects::in_polar(&sim).await;
    let drift = truth.differences(&Objects::in_database(&pool).await);
    problems.extend(drift.iter().take(5).cloned());
    let checked = snapshots::check(&pool, &catalog, &truth).await;
    // Usage customers are free users Polar never heard of: their snapshots are the usage's.
    let snapshot_problems: Vec<_> = checked
        .problems
        .iter()
        .filter(|p| !p.starts_with("soak_usage_"))
        .collect();
    problems.extend(snapshot_problems.iter().take(5).map(|p| (*p).clone()));

    let counted: Vec<(String, i64)> = sqlx::query_as(
        "SELECT customer, sum(used)::bigint FROM usage_counters
         WHERE feature = 'api_calls' GROUP BY customer ORDER BY customer",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let counted: std::collections::BTreeMap<String, i64> = counted.into_iter().collect();
    let ledger = usage.ledger.lock().unwrap().clone();
    for (customer, sent) in &ledger {
        let stored = counted.get(customer).copied().unwrap_or(0);
        if stored != *sent {
            problems.push(format!("{customer}: {sent} units sent, {stored} counted"));
        }
    }
    let extra = counted.keys().filter(|c| !ledger.contains_key(*c)).count();
    if extra > 0 {
        problems.push(format!("{extra} customers counted that sent no usage"));
    }
    let events_stored = stored::count(&pool, "usage_events").await as u64;
    let events_sent = usage.events.load(Ordering::Relaxed);
    if events_stored != events_sent {
        problems.push(format!(
            "{events_sent} usage events sent, {events_stored} stored"
        ));
    }
    if usage.rejected.load(Ordering::Relaxed) > 0 {
        problems.push(format!(
            "{} usage events rejected",
            usage.rejected.load(Ordering::Relaxed)
        ));
    }

    // The first sample is the warm-up; the rest is split in halves.
    let warm = rss.get(1..).unwrap_or_default();
    let half = warm.len() / 2;
    let first_peak = warm[..half.max(1).min(warm.len())]
        .iter()
        .copied()
        .fold(0.0, f64::max);
    let second_peak = warm[half..].iter().copied().fold(0.0, f64::max);
    if second_peak > first_peak * RSS_GROWTH_ALLOWED {
        problems.push(format!(
            "RSS grew: {first_peak:.1} MiB at most in the first half, {second_peak:.1} MiB in the second"
        ));
    }

    let mut total = stats.total();
    println!(
        "\nsoak over: {:.0} s of load, settled {:.1} s later",
        loaded.as_secs_f64(),
        settled.as_secs_f64()
    );
    for line in total.lines(loaded.as_secs_f64()) {
        println!("    {line}");
    }
    for (error, n) in &total.errors {
        println!("    refused: {error} ×{n}");
    }
    println!(
        "  webhooks: {} emitted, {} repeats sent, receipts {:?}; stored {} ({:?}, {} applied on a retry)",
        emitted.len(),
        hooks.duplicates_sent.load(Ordering::Relaxed),
        hooks.receipts.lock().unwrap(),
        webhooks.rows,
        webhooks.statuses,
        webhooks.retried
    );
    println!(
        "  usage: {} events in {} batches sent ({} batches repeated), {} accepted, {} duplicates; {} units counted for {} customers",
        events_sent,
        events_sent / 20,
        usage.repeated_batches.load(Ordering::Relaxed),
        usage.accepted.load(Ordering::Relaxed),
        usage.duplicates.load(Ordering::Relaxed),
        counted.values().sum::<i64>(),
        counted.len()
    );
    println!(
        "  Polar: {}; snapshots of {} customers ({} revisions), plans {:?}",
        truth.counts(),
        checked.customers,
        checked.revisions,
        checked.plans
    );
    let samples: Vec<String> = rss.iter().map(|m| format!("{m:.0}")).collect();
    println!("  RSS MiB every 30 s: {}", samples.join(" "));
    pool.close().await;
    drop(database);
    if problems.is_empty() {
        println!("soak: nothing lost, nothing counted twice, RSS flat");
        ExitCode::SUCCESS
    } else {
        println!("soak: MISMATCH");
        for problem in &problems {
            println!("  - {problem}");
        }
        ExitCode::FAILURE
    }
}

/// The apps' steady load until `deadline`: `rate` requests a second, a mix of usage batches,
/// checks, support reads and entitlement reads.
async fn app_load(
    url: String,
    rate: u64,
    customers: usize,
    deadline: Instant,
    stats: Arc<Stats>,
    usage: Arc<Usage>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate as u32);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut running = tokio::task::JoinSet::new();
    while Instant::now() < deadline {
        ticks.tick().await;
        while running.try_join_next().is_some() {}
        let (client, url, stats, usage) = (
            client.clone(),
            url.clone(),
            Arc::clone(&stats),
            Arc::clone(&usage),
        );
        running.spawn(async move {
            let (pick, polar_customer, usage_customer) = {
                let mut rng = rand::rng();
                (
                    rng.random_range(0..100),
                    lifecycles::customer(rng.random_range(0..customers)),
                    usage::customer(rng.random_range(0..USAGE_CUSTOMERS)),
                )
            };
            let started = Instant::now();
            let (kind, request) = match pick {
                0..30 => return usage.send(&stats).await,
                30..70 => {
                    let customer = if pick % 2 == 0 {
                        polar_customer
                    } else {
                        usage_customer
                    };
                    let body = json!({"customer": customer, "feature": "api_calls", "amount": 1});
                    ("check", client.post(format!("{url}/v1/check")).json(&body))
                }
                70..80 => {
                    let query = format!("{url}/v1/admin/customers?q=storm_user_0{}", pick % 10);
                    ("admin", client.get(query))
                }
                80..90 => (
                    "admin",
                    client.get(format!("{url}/v1/admin/customers/{polar_customer}")),
                ),
                _ => (
                    "entitlements",
                    client.get(format!("{url}/v1/entitlements/{polar_customer}")),
                ),
            };
            let error = match request.bearer_auth(API_TOKEN).send().await {
                Ok(response) if response.status().is_success() => {
                    let _ = response.bytes().await;
                    None
                }
                Ok(response) => {
                    let status = response.status();
                    let body: serde_json::Value = response.json().await.unwrap_or_default();
                    Some(format!(
                        "{} {}",
                        status.as_u16(),
                        body["code"].as_str().unwrap_or("?")
                    ))
                }
                Err(_) => Some("no answer".to_owned()),
            };
            stats.record(kind, started.elapsed(), error);
        });
    }
    while running.join_next().await.is_some() {}
}
