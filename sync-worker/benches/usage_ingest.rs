//! Usage ingestion throughput: batches of 1 000 events through `usage::ingest` (validation,
//! the engine's periods, de-duplication keys, aggregated counter upserts, overage and freshness
//! marks, one transaction per batch), beside a raw `COPY` of the same rows into the same table.
//!
//! ```sh
//! cargo bench -p tollgate-sync --bench usage_ingest
//! ```
//!
//! Needs PostgreSQL at `TOLLGATE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`);
//! it creates and drops its own database. `USAGE_BENCH_BATCHES` (default 200) sets the batches
//! per measurement, `USAGE_BENCH_STREAMS` (default 4) the concurrent senders of the last one.

// Benchmarks are not tests to clippy: a failed step should stop the run loudly all the same.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection as _, PgConnection, PgPool};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate_gate::Catalog;
use tollgate_sync::db::MIGRATOR;
use tollgate_sync::usage::event::UsageEvent;
use tollgate_sync::usage::ingest;

const BATCH: usize = 1_000;
/// Each batch spreads over this many customers, drawn from a population of 10 000.
const CUSTOMERS_PER_BATCH: usize = 100;

#[path = "../tests/common/database.rs"]
mod database;
use database::{FreshDatabase, server_url};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Batch `n` of a run: fresh event ids, 100 customers, `api_calls` (metered).
fn batch(run: &str, n: usize, now: DateTime<Utc>) -> Vec<(usize, UsageEvent)> {
    (0..BATCH)
        .map(|i| {
            let customer = (n * CUSTOMERS_PER_BATCH + i % CUSTOMERS_PER_BATCH) % 10_000;
            let event = UsageEvent {
                id: format!("{run}-{n}-{i}"),
                customer: format!("user_{customer:05}"),
                feature: "api_calls".to_owned(),
                amount: 1,
                timestamp: now,
                properties: None,
            };
            (i, event)
        })
        .collect()
}

/// The rows `ingest` writes for a batch, as `COPY … FROM STDIN` text.
fn copy_text(events: &[(usize, UsageEvent)], now: DateTime<Utc>) -> String {
    let period_start = "2026-11-01 00:00:00+00";
    let mut text = String::with_capacity(events.len() * 120);
    for (_, e) in events {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            e.customer,
            e.id,
            e.feature,
            e.amount,
            e.timestamp.to_rfc3339(),
            period_start,
            now.to_rfc3339()
        ));
    }
    text
}

async fn ingest_run(
    pool: &PgPool,
    catalog: &Arc<Catalog>,
    run: &str,
    batches: usize,
    streams: usize,
    now: DateTime<Utc>,
) -> Duration {
    // A run name seen before sends the same events again: all of them are duplicates.
    let expected = if run.starts_with("again-") { 0 } else { BATCH };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for stream in 0..streams {
        let pool = pool.clone();
        let catalog = Arc::clone(catalog);
        let run = format!("{}s{stream}", run.trim_start_matches("again-"));
        tasks.push(tokio::spawn(async move {
            for n in (stream..batches).step_by(streams) {
                let receipt = ingest::ingest(&pool, &catalog, batch(&run, n, now), now)
                    .await
                    .unwrap();
                assert_eq!(receipt.accepted as usize, expected);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed()
}

async fn copy_run(
    conn: &mut PgConnection,
    run: &str,
    batches: usize,
    now: DateTime<Utc>,
) -> Duration {
    let texts: Vec<String> = (0..batches)
        .map(|n| copy_text(&batch(run, n, now), now))
        .collect();
    let started = Instant::now();
    for text in texts {
        let mut copy = conn
            .copy_in_raw(
                "COPY usage_events (customer, event_id, feature, amount, occurred_at, period_start, received_at) FROM STDIN",
            )
            .await
            .unwrap();
        copy.send(text.into_bytes()).await.unwrap();
        copy.finish().await.unwrap();
    }
    started.elapsed()
}

fn rate(batches: usize, elapsed: Duration) -> f64 {
    (batches * BATCH) as f64 / elapsed.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let batches = env_usize("USAGE_BENCH_BATCHES", 200);
    let streams = env_usize("USAGE_BENCH_STREAMS", 4);
    let mut database = FreshDatabase::create_on(&server_url(), "tollgate_bench").await;
    let url = database.url.clone();
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .unwrap();
    MIGRATOR.run(&pool).await.unwrap();
    let catalog = Arc::new(Catalog::parse(include_str!("../../examples/catalog.toml")).unwrap());
    let now: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();

    // Warm up: every customer's rows exist, caches are hot.
    ingest_run(&pool, &catalog, "warm", 100, 1, now).await;
    let mut conn = PgConnection::connect(&url).await.unwrap();
    copy_run(&mut conn, "warmcopy", 20, now).await;

    let mut results = Vec::new();
    for round in 0..3 {
        let copy = copy_run(&mut conn, &format!("copy{round}"), batches, now).await;
        let one = ingest_run(&pool, &catalog, &format!("one{round}"), batches, 1, now).await;
        let many = ingest_run(
            &pool,
            &catalog,
            &format!("many{round}"),
            batches,
            streams,
            now,
        )
        .await;
        let retried = ingest_run(
            &pool,
            &catalog,
            &format!("again-one{round}"),
            batches,
            1,
            now,
        )
        .await;
        results.push((
            rate(batches, copy),
            rate(batches, one),
            rate(batches, many),
            rate(batches, retried),
        ));
    }
    println!(
        "batches of {BATCH} events, {CUSTOMERS_PER_BATCH} customers each; {batches} batches per measurement; events/s"
    );
    println!(
        "round  raw COPY  ingest (1 stream)  ingest ({streams} streams)  retried batches (all duplicates, 1 stream)"
    );
    for (round, (copy, one, many, retried)) in results.iter().enumerate() {
        println!("{round:>5}  {copy:>8.0}  {one:>17.0}  {many:>18.0}  {retried:>10.0}");
    }
    let median = |pick: fn(&(f64, f64, f64, f64)) -> f64| {
        let mut values: Vec<f64> = results.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (copy, one, many) = (median(|r| r.0), median(|r| r.1), median(|r| r.2));
    println!(
        "median: COPY {copy:.0}/s; ingest {one:.0}/s with 1 stream ({:.0}% of COPY), {many:.0}/s with {streams} streams ({:.0}% of COPY)",
        100.0 * one / copy,
        100.0 * many / copy
    );

    drop(conn);
    pool.close().await;
    database.drop_now().await;
}
