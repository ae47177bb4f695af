//! Monitoring: `/metrics` on its own listener, read by a Prometheus text parser; health alerts
//! posted to a local receiver that fails the first attempts.
//!
//! The recorder is one per process and the tests of this binary run in parallel, so every
//! assertion is on a counter that moved by at least this test's own work.

use crate::support::{API_TOKEN, CUSTOMER, TestApp, at, catalog_path, fixture};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use prometheus_parse::{Sample, Scrape, Value as PromValue};
use reqwest::StatusCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tollgate_sync::app::load_catalog;
use tollgate_sync::jobs::{Deps, health_check};

/// The service with `/metrics` on a free port.
pub async fn spawn_with_metrics(now: &str) -> TestApp {
    TestApp::spawn_configured(at(now), |config| {
        config.monitoring.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await
}

/// `/metrics`, parsed.
pub async fn scrape(app: &TestApp) -> Scrape {
    let address = app.metrics_address.as_ref().expect("metrics are on");
    let response = reqwest::get(format!("{address}/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).unwrap()
}

fn matches(sample: &Sample, name: &str, labels: &[(&str, &str)]) -> bool {
    sample.metric == name
        && labels
            .iter()
            .all(|(key, value)| sample.labels.get(key) == Some(value))
}

/// The sum of the samples of `name` whose labels include `labels` (0 when there are none).
pub fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|sample| matches(sample, name, labels))
        .map(|sample| match &sample.value {
            PromValue::Counter(v) | PromValue::Gauge(v) | PromValue::Untyped(v) => *v,
            PromValue::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            PromValue::Summary(_) => 0.0,
        })
        .sum()
}

fn has(scrape: &Scrape, name: &str) -> bool {
    scrape.samples.iter().any(|sample| sample.metric == name)
}

#[tokio::test]
async fn metrics_count_webhooks_requests_and_checks() {
    let app = spawn_with_metrics("2026-09-14T09:13:59Z").await;
    let before = scrape(&app).await;

    let created = fixture("customer.created");
    assert_eq!(app.deliver_at_its_time(&created).await, "applied");
    assert_eq!(
        app.check(CUSTOMER, "advanced_analytics", 1).await["allowed"],
        false
    );
    let response = app
        .client
        .get(format!("{}/v1/entitlements/{CUSTOMER}", app.address))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let after = scrape(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let customer_created = [("type", "customer.created")];
    assert!(moved("tollgate_webhooks_received_total", &customer_created) >= 1.0);
    assert!(
        moved(
            "tollgate_webhooks_applied_total",
            &[("type", "customer.created"), ("status", "applied")]
        ) >= 1.0
    );
    assert!(has(&after, "tollgate_webhook_apply_lag_seconds"));
    assert!(moved("tollgate_checks_total", &[("reason", "not_in_plan")]) >= 1.0);
    // Requests are labelled by the route they matched, never by the raw path.
    let webhook = [
        ("method", "POST"),
        ("route", "/webhooks/polar"),
        ("status", "202"),
    ];
    assert!(moved("tollgate_http_requests_total", &webhook) >= 1.0);
    let entitlements = [("route", "/v1/entitlements/:customer"), ("status", "200")];
    assert!(moved("tollgate_http_requests_total", &entitlements) >= 1.0);
    assert!(
        moved(
            "tollgate_http_request_duration_seconds",
            &[("route", "/v1/entitlements/:customer")]
        ) >= 1.0
    );
    assert!(
        after
            .samples
            .iter()
            .all(|sample| sample.labels.values().all(|v| !v.contains(CUSTOMER))),
        "a customer id leaked into a label"
    );
    // Queue depths are sampled when the listener starts.
    assert!(has(&after, "tollgate_webhook_inbox_depth"));
    assert!(has(&after, "tollgate_outbox_depth"));
    app.finish().await;
}

#[tokio::test]
async fn metrics_are_off_without_their_listener() {
    let app = TestApp::spawn("2026-09-14T09:13:59Z").await;
    assert_eq!(app.metrics_address, None);
    // The public API does not serve them.
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}

/// A stand-in for a webhook receiver (Slack, the app): it answers 500 to the first
/// `fail_first` requests, then 200, and keeps every request it accepted.
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct ReceiverState {
    fail_first: AtomicUsize,
    attempts: AtomicUsize,
    accepted: Mutex<Vec<Received>>,
}

/// One accepted request.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    state.attempts.fetch_add(1, Ordering::SeqCst);
    let failing = state
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    state
        .accepted
        .lock()
        .unwrap()
        .push(Received { headers, body });
    StatusCode::OK
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Self {
        let state = Arc::new(ReceiverState {
            fail_first: AtomicUsize::new(fail_first),
            ..ReceiverState::default()
        });
        let router = Router::new()
            .route("/hook", post(receive))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { url, state, server }
    }

    /// Every request made, accepted or not.
    pub fn attempts(&self) -> usize {
        self.state.attempts.load(Ordering::SeqCst)
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.state.accepted.lock().unwrap().clone()
    }

    /// Waits (30 s at most) until at least `count` requests were accepted; returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let accepted = self.accepted();
            if accepted.len() >= count {
                return accepted;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {count} deliveries arrived ({} attempts)",
                accepted.len(),
                self.attempts()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn deps(app: &TestApp) -> Deps {
    Deps {
        pool: app.pool.clone(),
        catalog: Arc::new(load_catalog(&catalog_path()).unwrap()),
        polar: None,
        clock: app.clock.clone(),
    }
}

#[tokio::test]
async fn an_alert_is_posted_once_when_it_opens_and_once_when_it_resolves() {
    // The receiver fails the first two posts: the opening arrives on the third attempt.
    let receiver = Receiver::start(2).await;
    let url = receiver.url.clone();
    let now = at("2026-11-25T10:00:00Z");
    let app = TestApp::spawn_configured(now, |config| {
        config.monitoring.alert_webhook_url = Some(url);
    })
    .await;
    let deps = deps(&app);

    // A run of the daily reconcile that started four hours ago and never finished.
    let started = now - chrono::Duration::hours(4);
    sqlx::query(
        "INSERT INTO job_runs (job, tick, trigger, runner, started_at)
         VALUES ('full_reconcile', $1, 'schedule', 'replica-that-died', $1)",
    )
    .bind(started)
    .execute(&app.pool)
    .await
    .unwrap();
    health_check::run_once(&deps, now).await.unwrap();
    let opened = receiver.wait_for(1).await;
    assert_eq!(receiver.attempts(), 3, "two failures, then the delivery");
    assert_eq!(opened[0].headers["content-type"], "application/json");
    let text = opened[0].json()["text"].as_str().unwrap().to_owned();
    assert!(
        text.contains("alert opened") && text.contains("`stuck_jobs`"),
        "{text}"
    );
    assert!(text.contains("full_reconcile"), "{text}");
    assert_eq!(opened[0].json()["blocks"][0]["text"]["text"], text);

    // Still failing ten minutes later: the alert is bumped, not posted again.
    let later = now + chrono::Duration::minutes(10);
    app.clock.set(later);
    health_check::run_once(&deps, later).await.unwrap();
    sqlx::query(
        "UPDATE job_runs SET finished_at = $1, outcome = 'failed' WHERE job = 'full_reconcile'",
    )
    .bind(later)
    .execute(&app.pool)
    .await
    .unwrap();
    let resolved_at = later + chrono::Duration::minutes(10);
    app.clock.set(resolved_at);
    health_check::run_once(&deps, resolved_at).await.unwrap();
    // Still passing: nothing more to post.
    health_check::run_once(&deps, resolved_at).await.unwrap();

    // Messages go out in order, so a second opening would have arrived before the resolution.
    let posted = receiver.wait_for(2).await;
    assert_eq!(posted.len(), 2);
    let text = posted[1].json()["text"].as_str().unwrap().to_owned();
    assert!(
        text.contains("alert resolved") && text.contains("`stuck_jobs`"),
        "{text}"
    );
    assert!(text.contains("after 20 min"), "{text}");
    let (queued,): (i64,) = sqlx::query_as("SELECT count(*) FROM alert_outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(queued, 2);
    app.finish().await;
}

#[tokio::test]
async fn leases_and_analytics_requests_are_labelled_by_their_route() {
    let app = spawn_with_metrics("2026-09-14T09:13:59Z").await;
    let before = scrape(&app).await;
    let lease = uuid::Uuid::now_v7().to_string();
    let settle = app
        .client
        .post(format!("{}/v1/leases/{lease}/settle", app.address))
        .bearer_auth(API_TOKEN)
        .json(&serde_json::json!({ "used": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(settle.status(), StatusCode::NOT_FOUND);
    let revenue = app
        .client
        .get(format!("{}/v1/analytics/revenue", app.address))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(revenue.status(), StatusCode::OK);

    let after = scrape(&app).await;
    let moved = |labels: &[(&str, &str)]| {
        value(&after, "tollgate_http_requests_total", labels)
            - value(&before, "tollgate_http_requests_total", labels)
    };
    let settled = [
        ("method", "POST"),
        ("route", "/v1/leases/:id/settle"),
        ("status", "404"),
    ];
    assert!(moved(&settled) >= 1.0);
    let analytics = [
        ("method", "GET"),
        ("route", "/v1/analytics/revenue"),
        ("status", "200"),
    ];
    assert!(moved(&analytics) >= 1.0);
    assert!(
        after
            .samples
            .iter()
            .all(|sample| sample.labels.values().all(|v| !v.contains(&lease))),
        "a lease id leaked into a label"
    );
    app.finish().await;
}
