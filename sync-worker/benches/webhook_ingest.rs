//! Webhook ingest throughput and latency of one `tollgate serve`.
//!
//! Starts the real binary on a fresh database, then sends signed Polar `subscription.*`
//! deliveries (each one a new version of one of many customers' subscriptions, so every
//! delivery is verified, stored, applied, rebuilds a snapshot and queues an outbox row) from
//! many concurrent connections. Reports the answer latency percentiles, and the throughput
//! until the last delivery is applied (not merely acknowledged), with the server's CPU time
//! and peak RSS.
//!
//! ```text
//! cargo bench -p tollgate-sync --bench webhook_ingest
//! ```
//!
//! Settings (environment): `TOLLGATE_BENCH_EVENTS` (default 20000), `TOLLGATE_BENCH_CONCURRENCY`
//! (default 64), `TOLLGATE_BENCH_CUSTOMERS` (default 2000), `TOLLGATE_TEST_POSTGRES` (default
//! postgres://postgres@127.0.0.1:5432), `TOLLGATE_BENCH_PGHOST` (serve over the Unix socket in
//! that directory instead of TCP).

// Benchmarks are not tests to clippy: a failed step should stop the run loudly all the same.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{Value, json};
use sqlx::{Connection as _, PgConnection};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tollgate_sync::signature::sign_legacy;

const SECRET: &str = "whsec_weqEH0hTc7ayeRNXIaS7rYErx8NOIZXqT9jIx0NO3lr";

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[path = "../tests/common/database.rs"]
mod database;
use database::{FreshDatabase, server_url};

/// How the server reaches the database: over TCP without TLS (same host), or through the Unix
/// socket directory in `TOLLGATE_BENCH_PGHOST` (e.g. /var/run/postgresql), which saves a
/// little CPU per round trip.
fn server_database_url(database: &str) -> String {
    match std::env::var("TOLLGATE_BENCH_PGHOST") {
        Ok(dir) => format!("postgres:///{database}?host={dir}&user=postgres"),
        Err(_) => format!("{}/{database}?sslmode=disable", server_url()),
    }
}

/// The `n`th delivery: version `n / customers` of customer `n % customers`'s subscription.
fn event(template: &Value, n: usize, customers: usize) -> Vec<u8> {
    let customer = n % customers;
    let version = n / customers;
    let mut event = template.clone();
    let data = &mut event["data"];
    data["id"] = json!(format!("00000000-0000-4000-8000-{customer:012}"));
    data["customer_id"] = json!(format!("10000000-0000-4000-8000-{customer:012}"));
    data["customer"]["id"] = data["customer_id"].clone();
    data["customer"]["external_id"] = json!(format!("bench_user_{customer}"));
    data["modified_at"] = json!(format!(
        "2026-09-14T10:{:02}:{:02}.000000Z",
        version / 60 % 60,
        version % 60
    ));
    data["cancel_at_period_end"] = json!(version % 2 == 1);
    event["type"] = json!(if version == 0 {
        "subscription.created"
    } else {
        "subscription.updated"
    });
    serde_json::to_vec(&event).unwrap()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CPU time (user + system) the process has used so far.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in USER_HZ, 100 per second on every architecture tollgate runs on.
    Some(Duration::from_millis(ticks * 10))
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::main]
async fn main() {
    let events = setting("TOLLGATE_BENCH_EVENTS", 20_000);
    let concurrency = setting("TOLLGATE_BENCH_CONCURRENCY", 64);
    let customers = setting("TOLLGATE_BENCH_CUSTOMERS", 2_000);

    let mut fresh = FreshDatabase::create_on(&server_url(), "tollgate_bench").await;
    let database = fresh.name.clone();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let catalog = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/catalog.toml");
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("serve")
            .env("DATABASE_URL", server_database_url(&database))
            .env("POLAR_WEBHOOK_SECRET", SECRET)
            .env("TOLLGATE_API_TOKEN", "bench-token-0123456789abcdef")
            .env("TOLLGATE_CATALOG", catalog)
            .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let ready = Instant::now();
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status().is_success())
        .ok()
        != Some(true)
    {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "tollgate serve did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let template: Value = serde_json::from_str(include_str!(
        "../tests/fixtures/webhook.subscription.created.json"
    ))
    .unwrap();
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..events)
            .map(|n| event(&template, n, customers))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu_time(server.0.id());
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, base, bodies, next) = (
            client.clone(),
            base.clone(),
            Arc::clone(&bodies),
            Arc::clone(&next),
        );
        workers.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(n) else {
                    return latencies;
                };
                let id = format!("bench-{n}");
                let timestamp = chrono::Utc::now().timestamp();
                let signature = sign_legacy(SECRET, &id, timestamp, body);
                let sent = Instant::now();
                let response = client
                    .post(format!("{base}/webhooks/polar"))
                    .header("content-type", "application/json")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let receipt: Value = response.json().await.unwrap();
                latencies.push(sent.elapsed());
                assert!(status.is_success(), "{status}: {receipt}");
                assert_eq!(receipt["status"], "accepted", "{receipt}");
            }
        });
    }
    let mut latencies: Vec<Duration> = workers.join_all().await.into_iter().flatten().collect();
    let answered = started.elapsed();
    let mut conn = PgConnection::connect(&format!("{}/{database}", server_url()))
        .await
        .unwrap();
    // Applying goes on in the background; the run ends when nothing is pending.
    let count = |sql: &'static str| sqlx::query_as::<_, (i64,)>(sql);
    loop {
        let (pending,) = count("SELECT count(*) FROM webhook_events WHERE status = 'pending'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    let rss = peak_rss_kib(server.0.id());
    let cpu = cpu_time(server.0.id())
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let (stored,) = count("SELECT count(*) FROM webhook_events WHERE status = 'applied'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let (snapshots,) = count("SELECT count(*) FROM entitlement_snapshots")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    drop(server);
    fresh.drop_now().await;

    println!("webhook ingest: {events} events, {concurrency} connections, {customers} customers");
    println!("  applied        {stored} events, {snapshots} snapshot revisions");
    println!(
        "  answered       {:.2} s ({:.0} events/s acknowledged)",
        answered.as_secs_f64(),
        events as f64 / answered.as_secs_f64()
    );
    println!("  all applied    {:.2} s", elapsed.as_secs_f64());
    println!(
        "  throughput     {:.0} events/s stored and applied",
        events as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency        p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.90).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    if let Some(cpu) = cpu {
        println!(
            "  server CPU     {:.0} µs per event ({:.1} s in all)",
            cpu.as_secs_f64() * 1e6 / events as f64,
            cpu.as_secs_f64()
        );
    }
    if let Some(rss) = rss {
        println!("  server RSS     {:.1} MiB at peak", rss as f64 / 1024.0);
    }
    println!(
        "  load average   {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
