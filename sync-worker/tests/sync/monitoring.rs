//! Monitoring: `/metrics` on its own listener, read by a Prometheus text parser.
//!
//! The recorder is one per process and the tests of this binary run in parallel, so every
//! assertion is on a counter that moved by at least this test's own work.

use crate::support::{API_TOKEN, CUSTOMER, TestApp, at, fixture};
use prometheus_parse::{Sample, Scrape, Value as PromValue};
use reqwest::StatusCode;

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
