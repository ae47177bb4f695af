//! `GET /v1/analytics/revenue` for twelve months over 100 000 subscriptions and 1 000 000
//! orders (budget: 500 ms).
//!
//! Fills a fresh database with SQL (`generate_series`): three products; 100 000 customers with
//! a subscription each, started over the year, a fifth of them canceled later, a tenth
//! upgraded, one in twenty past due, one in ten yearly and one in ten discounted, so that the
//! history holds about 135 000 versions; 1 000 000 paid orders spread over the year; 20 000
//! refunds; then builds the analytics rollups in one pass. Then starts the service on it and times the endpoint over HTTP (one call to warm
//! up, then `TOLLGATE_BENCH_RUNS` calls, 7 by default), printing each and the median.
//!
//! ```text
//! cargo bench -p tollgate-sync --bench analytics
//! ```
//!
//! Settings (environment): `TOLLGATE_BENCH_SUBSCRIPTIONS` (default 100000),
//! `TOLLGATE_BENCH_ORDERS` (default 1000000), `TOLLGATE_TEST_POSTGRES`
//! (default postgres://postgres@127.0.0.1:5432).

// Benchmarks are not tests to clippy: a failed step should stop the run loudly all the same.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use secrecy::SecretString;
use serde_json::Value;
use sqlx::PgPool;
use std::time::Instant;
use tollgate_sync::config::{
    CatalogConfig, Config, DatabaseConfig, PolarConfig, PolarServer, PublishConfig,
};
use tollgate_sync::db::MIGRATOR;
use tollgate_sync::{App, Clock};

#[path = "../tests/common/database.rs"]
mod database;
use database::{FreshDatabase, server_url};

const TOKEN: &str = "bench-token-0123456789abcdef";

/// The year the report covers: December 2025 to November 2026. Loaded in bulk, as an import
/// would be: the rollups' row triggers are off during the load, and
/// `rebuild_analytics_rollups()` then builds the rows they would have kept.
const FILL: &str = "
ALTER TABLE subscription_versions DISABLE TRIGGER subscription_versions_record_mrr_changes;
ALTER TABLE orders DISABLE TRIGGER orders_record_revenue;
ALTER TABLE refunds DISABLE TRIGGER refunds_record_revenue;

INSERT INTO products (id, name, is_archived, version_at, raw)
VALUES ('p_premium', 'Premium', false, '2025-01-01', '{\"metadata\": {\"plan\": \"premium\"}}'),
       ('p_plus', 'Premium Plus', false, '2025-01-01', '{\"metadata\": {\"plan\": \"premium_plus\"}}'),
       ('p_yearly', 'Premium Yearly', false, '2025-01-01', '{\"metadata\": {\"plan\": \"premium\"}}');

INSERT INTO customers (id, external_id, email, version_at, raw)
SELECT 'c' || n, 'user_' || n, 'user' || n || '@example.com', '2025-01-01', '{}'
FROM generate_series(1, $1) AS n;

-- Each subscription starts somewhere in the year; one in ten is yearly, one in ten has 20 %
-- off forever.
INSERT INTO subscriptions (id, customer_id, product_id, status, version_at, raw)
SELECT 's' || n, 'c' || n, CASE WHEN n % 10 = 0 THEN 'p_yearly' ELSE 'p_premium' END,
       'active', started,
       jsonb_build_object(
           'amount', CASE WHEN n % 10 = 0 THEN 19000 ELSE 1900 END, 'currency', 'usd',
           'recurring_interval', CASE WHEN n % 10 = 0 THEN 'year' ELSE 'month' END,
           'started_at', to_char(started, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
           'discount', CASE WHEN n % 10 = 3 THEN jsonb_build_object(
               'type', 'percentage', 'basis_points', 2000, 'duration', 'forever') END)
FROM (SELECT n, timestamptz '2025-11-01' + (n % 390) * interval '1 day' + (n % 24) * interval '1 hour'
          AS started
      FROM generate_series(1, $1) AS n) s;

-- A tenth upgrade 40 days in, a fifth cancel 100 days in, one in twenty falls past due.
UPDATE subscriptions SET product_id = 'p_plus', version_at = version_at + interval '40 days',
       raw = raw || '{\"amount\": 4900}'
WHERE id IN (SELECT 's' || n FROM generate_series(1, $1) n WHERE n % 10 = 1);
UPDATE subscriptions SET status = 'canceled', version_at = version_at + interval '100 days'
WHERE id IN (SELECT 's' || n FROM generate_series(1, $1) n WHERE n % 5 = 2);
UPDATE subscriptions SET status = 'past_due', version_at = version_at + interval '30 days'
WHERE id IN (SELECT 's' || n FROM generate_series(1, $1) n WHERE n % 20 = 4);

INSERT INTO orders (id, customer_id, subscription_id, product_id, status, billing_reason, currency,
                    total_amount, refunded_amount, version_at, raw)
SELECT 'o' || n, 'c' || (n % $1 + 1), 's' || (n % $1 + 1), 'p_premium',
       CASE WHEN n % 50 = 0 THEN 'pending' ELSE 'paid' END, 'subscription_cycle', 'usd',
       1900, 0, at,
       jsonb_build_object('created_at', to_char(at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                          'net_amount', 1900)
FROM (SELECT n, timestamptz '2025-12-01' + (n % 365) * interval '1 day' + (n % 86400) * interval '1 second'
          AS at
      FROM generate_series(1, $2) AS n) o;

INSERT INTO refunds (id, order_id, customer_id, status, currency, amount, version_at, raw)
SELECT 'r' || n, 'o' || (n * 50 + 1), 'c' || n, 'succeeded', 'usd', 500, at,
       jsonb_build_object('created_at', to_char(at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))
FROM (SELECT n, timestamptz '2025-12-01' + (n % 365) * interval '1 day' AS at
      FROM generate_series(1, $2 / 50) AS n) r;

ALTER TABLE subscription_versions ENABLE TRIGGER subscription_versions_record_mrr_changes;
ALTER TABLE orders ENABLE TRIGGER orders_record_revenue;
ALTER TABLE refunds ENABLE TRIGGER refunds_record_revenue;
SELECT rebuild_analytics_rollups();
";

fn env_or(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let subscriptions = env_or("TOLLGATE_BENCH_SUBSCRIPTIONS", 100_000);
    let orders = env_or("TOLLGATE_BENCH_ORDERS", 1_000_000);
    let runs = env_or("TOLLGATE_BENCH_RUNS", 7);
    let mut database = FreshDatabase::create_on(&server_url(), "tollgate_bench").await;
    let pool = PgPool::connect(&database.url).await.unwrap();
    MIGRATOR.run(&pool).await.unwrap();
    let filled = Instant::now();
    let mut conn = pool.acquire().await.unwrap();
    for statement in FILL.split(";\n").filter(|s| !s.trim().is_empty()) {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()));
        if statement.contains("$2") {
            query = query.bind(subscriptions).bind(orders);
        } else if statement.contains("$1") {
            query = query.bind(subscriptions);
        }
        query.execute(&mut *conn).await.unwrap();
    }
    sqlx::query("ANALYZE").execute(&mut *conn).await.unwrap();
    let (versions,): (i64,) = sqlx::query_as("SELECT count(*) FROM subscription_versions")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    println!(
        "filled {subscriptions} subscriptions ({versions} versions), {orders} orders in {:.1} s",
        filled.elapsed().as_secs_f64()
    );

    let now = chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .unwrap()
        .to_utc();
    let app = App::build_with_clock(config(&database.url), Clock::manual(now))
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = tokio::spawn(app.run());
    let client = reqwest::Client::new();
    let url = format!("{address}/v1/analytics/revenue?from=2025-12-01&to=2026-12-01");
    let mut times = Vec::new();
    for run in 0..=runs {
        let started = Instant::now();
        let response = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let body: Value = response.json().await.unwrap();
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        let months = body["currencies"][0]["intervals"].as_array().unwrap();
        assert_eq!(months.len(), 12);
        if run == 0 {
            let last = &months[11];
            println!(
                "November 2026: MRR {} → {}, {} subscribers, {} payments, revenue {}",
                last["mrr_start"],
                last["mrr_end"],
                last["subscribers_end"],
                last["payments"]["succeeded"],
                last["gross_revenue"]
            );
            println!("warm-up: {elapsed:.0} ms");
        } else {
            println!("run {run}: {elapsed:.0} ms");
            times.push(elapsed);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "GET /v1/analytics/revenue, 12 months: median {:.0} ms, min {:.0} ms, max {:.0} ms (budget 500 ms)",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    server.abort();
    pool.close().await;
    database.drop_now().await;
}

fn config(database_url: &str) -> Config {
    Config {
        database: DatabaseConfig {
            url: SecretString::from(database_url.to_owned()),
            max_connections: 4,
        },
        catalog: CatalogConfig {
            path: concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/catalog.toml").into(),
        },
        polar_webhook_secret: SecretString::from(
            "whsec_weqEH0hTc7ayeRNXIaS7rYErx8NOIZXqT9jIx0NO3lr",
        ),
        polar: PolarConfig {
            organization_token: None,
            server: PolarServer::Sandbox,
            api_url: None,
        },
        publish: PublishConfig::default(),
        jobs: false,
        listen: "127.0.0.1:0".parse().unwrap(),
        api_token: SecretString::from(TOKEN),
        clerk_webhook_secret: None,
        rate_limit: None,
        rate_limit_burst: None,
        auth_failure_burst: 1000,
        monitoring: Default::default(),
    }
}
