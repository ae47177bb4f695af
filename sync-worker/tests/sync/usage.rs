//! Usage against a real service on a fresh database: batches counted once however often and
//! concurrently they are sent, limits that hold under concurrent consumption, periods that roll
//! over, gauges, the monthly report, and overage that reaches Polar (the simulator) once.

use crate::support::{API_TOKEN, TestApp, at};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use tollgate_sync::jobs::{usage_cleanup, usage_freshness, usage_processing};
use tollgate_sync::polar_client::{ClientConfig, PolarClient};
use tollgate_sync::usage::Deps;

/// Small limits, so that tests reach them: `api_calls` bills overage past 10 a month and warns
/// at 8; `exports` blocks past 5 a day; `projects` is a gauge of at most 3.
const CATALOG: &str = r#"
default_plan = "free"

[features]
api_calls = { type = "metered", reset = "month" }
exports   = { type = "metered", reset = "day" }
projects  = { type = "gauge" }
sso       = { type = "boolean" }

[plans.free]
name = "Free"
rank = 0
limits = { api_calls = { limit = 10, overage = "bill", warn_at = 0.8 }, exports = 5, projects = 3 }

[plans.pro]
name = "Pro"
rank = 1
polar_metadata = { plan = "pro" }
limits = { api_calls = 1000, exports = 100, projects = 50, sso = true }
"#;

struct Usage {
    app: TestApp,
    catalog: Arc<tollgate_gate::Catalog>,
    _catalog_file: tempfile_path::Removed,
}

/// A catalog file removed when the test ends.
mod tempfile_path {
    pub struct Removed(pub std::path::PathBuf);
    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// The usage helpers below read the service's address, clock and pool through `TestApp`.
impl std::ops::Deref for Usage {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Usage {
    async fn spawn(now: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "tollgate_usage_{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&path, CATALOG).unwrap();
        Self {
            app: TestApp::spawn_with_catalog(now, path.clone()).await,
            catalog: Arc::new(tollgate_gate::Catalog::parse(CATALOG).unwrap()),
            _catalog_file: tempfile_path::Removed(path),
        }
    }

    async fn finish(self) {
        self.app.finish().await;
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn post_usage(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/usage", self.address))
            .bearer_auth(API_TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn ingest(&self, events: &[Value]) -> Value {
        let response = self.post_usage(&json!({ "events": events })).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn consume(&self, body: Value) -> reqwest::Response {
        let mut body = body;
        body["consume"] = json!(true);
        self.client
            .post(format!("{}/v1/check", self.address))
            .bearer_auth(API_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The count the engine sees now: a consume of nothing answers `used` and counts nothing.
    async fn used(&self, customer: &str, feature: &str) -> u64 {
        let response = self
            .consume(json!({ "customer": customer, "feature": feature, "amount": 0 }))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        answer["used"].as_u64().unwrap()
    }

    async fn snapshot(&self, customer: &str) -> Value {
        self.app
            .snapshot(customer)
            .await
            .unwrap_or_else(|| panic!("{customer} has no snapshot"))
    }

    async fn count(&self, table: &str) -> i64 {
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&self.pool)
                .await
                .unwrap();
        n
    }

    fn deps(&self, polar: Option<PolarClient>) -> Deps {
        Deps {
            pool: self.pool.clone(),
            catalog: Arc::clone(&self.catalog),
            polar,
        }
    }
}

fn event(id: &str, customer: &str, feature: &str, amount: u64, timestamp: &str) -> Value {
    json!({ "id": id, "customer": customer, "feature": feature, "amount": amount,
            "timestamp": timestamp })
}

#[tokio::test]
async fn a_batch_retried_five_times_and_concurrently_counts_once() {
    let app = Usage::spawn("2026-11-20T12:00:00Z").await;
    let mut events = Vec::new();
    for i in 0..300 {
        let customer = ["ada", "grace", "linus"][i % 3];
        let feature = if i % 2 == 0 { "api_calls" } else { "exports" };
        events.push(event(
            &format!("evt_{i}"),
            customer,
            feature,
            1 + (i % 3) as u64,
            "2026-11-20T11:59:00.000Z",
        ));
    }
    let body = json!({ "events": events });
    let sends = (0..5).map(|_| app.post_usage(&body));
    let mut accepted = 0;
    let mut duplicates = 0;
    for response in futures_join(sends).await {
        assert_eq!(response.status(), StatusCode::OK);
        let receipt: Value = response.json().await.unwrap();
        assert_eq!(receipt["rejected"], json!([]));
        accepted += receipt["accepted"].as_u64().unwrap();
        duplicates += receipt["duplicates"].as_u64().unwrap();
    }
    assert_eq!(
        (accepted, duplicates),
        (300, 1200),
        "five concurrent sends count once"
    );
    let again = app.ingest(body["events"].as_array().unwrap()).await;
    assert_eq!(again["accepted"], 0);
    assert_eq!(again["duplicates"], 300);

    let expected = |customer: &str, feature: &str| -> u64 {
        (0..300usize)
            .filter(|i| ["ada", "grace", "linus"][i % 3] == customer)
            .filter(|i| (if i % 2 == 0 { "api_calls" } else { "exports" }) == feature)
            .map(|i| 1 + (i % 3) as u64)
            .sum()
    };
    for customer in ["ada", "grace", "linus"] {
        for feature in ["api_calls", "exports"] {
            assert_eq!(
                app.used(customer, feature).await,
                expected(customer, feature),
                "{customer} {feature}"
            );
        }
    }
    assert_eq!(app.count("usage_events").await, 300);
    app.finish().await;
}

#[tokio::test]
async fn invalid_events_are_reported_and_the_valid_ones_kept() {
    let app = Usage::spawn("2026-11-20T12:00:00Z").await;
    let receipt = app
        .ingest(&[
            event("a", "ada", "api_calls", 2, "2026-11-20T11:00:00Z"),
            event("b", "ada", "teleport", 1, "2026-11-20T11:00:00Z"),
            event("c", "ada", "projects", 1, "2026-11-20T11:00:00Z"),
            json!({ "id": "d", "customer": "ada", "feature": "api_calls", "amount": -3,
                    "timestamp": "2026-11-20T11:00:00Z" }),
            event("e", "ada", "api_calls", 1, "2026-11-21T12:00:00Z"),
            event("f", "ada", "api_calls", 1, "2026-10-31T23:59:59Z"),
            json!({ "customer": "ada", "feature": "api_calls", "timestamp": "2026-11-20T11:00:00Z" }),
            json!("not an event"),
            event("a", "ada", "api_calls", 2, "2026-11-20T11:00:00Z"),
            event("g", "new_free_user", "exports", 1, "2026-11-20T11:30:00Z"),
        ])
        .await;
    assert_eq!(receipt["accepted"], 2);
    assert_eq!(
        receipt["duplicates"], 1,
        "a repeat within the batch is a duplicate"
    );
    let rejected: Vec<(u64, String)> = receipt["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(!r["message"].as_str().unwrap().is_empty());
            (
                r["index"].as_u64().unwrap(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (1, "unknown_feature"),
            (2, "not_metered"),
            (3, "invalid_amount"),
            (4, "timestamp_in_future"),
            (5, "timestamp_before_period"),
            (6, "invalid_event"),
            (7, "invalid_event"),
        ]
        .map(|(i, c)| (i, c.to_owned()))
    );
    assert!(
        receipt["rejected"][1]["message"]
            .as_str()
            .unwrap()
            .contains("projects")
    );
    assert_eq!(app.used("ada", "api_calls").await, 2);
    assert_eq!(
        app.used("new_free_user", "exports").await,
        1,
        "free users are metered"
    );
    let (plan,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM metered_customers WHERE customer = 'new_free_user'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(plan, 1);

    // Whole-request refusals store nothing.
    let before = app.count("usage_events").await;
    let too_many: Vec<Value> = (0..10_001)
        .map(|i| {
            event(
                &format!("x{i}"),
                "ada",
                "api_calls",
                1,
                "2026-11-20T11:00:00Z",
            )
        })
        .collect();
    let response = app.post_usage(&json!({ "events": too_many })).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "batch_too_large");
    let response = app
        .client
        .post(format!("{}/v1/usage", app.address))
        .bearer_auth(API_TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"events": [{"id": "y"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_json");
    let response = app
        .client
        .post(format!("{}/v1/usage", app.address))
        .json(&json!({ "events": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("usage_events").await, before);
    app.finish().await;
}

#[tokio::test]
async fn concurrent_consume_calls_never_exceed_a_block_limit() {
    let app = Usage::spawn("2026-11-20T12:00:00Z").await;
    let calls = (0..24)
        .map(|_| app.consume(json!({ "customer": "ada", "feature": "exports", "amount": 1 })));
    let mut allowed = 0;
    for response in futures_join(calls).await {
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["allowed"], answer["consumed"]);
        if answer["allowed"] == json!(true) {
            allowed += 1;
        } else {
            assert_eq!(answer["reason"], "limit_reached");
            assert_eq!(answer["upgrade"]["plan"], "pro");
        }
    }
    assert_eq!(allowed, 5, "exactly the limit was consumed");
    assert_eq!(app.used("ada", "exports").await, 5);
    let snapshot = app.snapshot("ada").await;
    assert_eq!(
        snapshot["features"]["exports"]["used"], 5,
        "the snapshot shows the count"
    );

    // A retried call with its event id counts once and answers as the first time.
    let first: Value = app
        .consume(json!({ "customer": "grace", "feature": "api_calls", "amount": 3, "event_id": "req-1" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (first["allowed"].clone(), first["used"].clone()),
        (json!(true), json!(0))
    );
    for _ in 0..3 {
        let retry: Value = app
            .consume(json!({ "customer": "grace", "feature": "api_calls", "amount": 3, "event_id": "req-1" }))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(retry["duplicate"], true);
        assert_eq!(retry["used"], 0);
    }
    assert_eq!(app.used("grace", "api_calls").await, 3);

    let response = app
        .consume(json!({ "customer": "grace", "feature": "projects", "amount": 1 }))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "not_metered");
    app.finish().await;
}

#[tokio::test]
async fn a_period_roll_over_starts_at_zero() {
    let app = Usage::spawn("2026-11-30T23:58:00Z").await;
    app.ingest(&[
        event("n1", "ada", "api_calls", 7, "2026-11-30T23:57:00Z"),
        event("n2", "ada", "exports", 4, "2026-11-30T23:57:30Z"),
    ])
    .await;
    assert_eq!(app.used("ada", "api_calls").await, 7);
    assert_eq!(app.used("ada", "exports").await, 4);

    app.clock.set(at("2026-12-01T00:00:01Z"));
    assert_eq!(
        app.used("ada", "api_calls").await,
        0,
        "a new month counts from zero"
    );
    assert_eq!(
        app.used("ada", "exports").await,
        0,
        "a new day counts from zero"
    );
    let late = app
        .ingest(&[event("n3", "ada", "api_calls", 1, "2026-11-30T23:59:59Z")])
        .await;
    assert_eq!(late["rejected"][0]["code"], "timestamp_before_period");
    let fresh = app
        .ingest(&[event(
            "d1",
            "ada",
            "api_calls",
            2,
            "2026-12-01T00:00:00.500Z",
        )])
        .await;
    assert_eq!(fresh["accepted"], 1);
    assert_eq!(app.used("ada", "api_calls").await, 2);

    // The monthly report keeps November's count.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args([
            "report",
            "usage",
            "--month",
            "2026-11",
            "--database-url",
            &app.database.url,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "month,customer,feature,events,units,overage_units\n\
         2026-11,ada,api_calls,1,7,0\n\
         2026-11,ada,exports,1,4,0\n"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args([
            "report",
            "usage",
            "--month",
            "2026-13",
            "--database-url",
            &app.database.url,
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("2026-13"));

    // Keys outlive 35 days and the previous month, then the weekly cleanup removes them.
    let deps = app.deps(None);
    assert_eq!(
        usage_cleanup::run_once(&deps, at("2026-12-20T00:00:00Z"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        usage_cleanup::run_once(&deps, at("2027-01-06T00:00:00Z"))
            .await
            .unwrap(),
        2
    );
    assert_eq!(app.count("usage_events").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn gauges_are_set_and_refused_by_name() {
    let app = Usage::spawn("2026-11-20T12:00:00Z").await;
    let put = |body: Value| {
        app.client
            .put(format!("{}/v1/gauges/ada", app.address))
            .bearer_auth(API_TOKEN)
            .json(&body)
            .send()
    };
    let response = put(json!({ "projects": 2, "teleports": 1, "wormholes": 4 }))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "unknown_feature");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("teleports") && message.contains("wormholes"),
        "{message}"
    );
    let response = put(json!({ "projects": 2, "api_calls": 1 })).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "not_gauge");
    assert!(body["message"].as_str().unwrap().contains("api_calls"));
    assert_eq!(
        app.count("usage_gauges").await,
        0,
        "a refused request changes nothing"
    );

    let response = put(json!({ "projects": 3 })).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let snapshot = app.snapshot("ada").await;
    assert_eq!(snapshot["features"]["projects"]["used"], 3);
    let check: Value = app
        .client
        .post(format!("{}/v1/check", app.address))
        .bearer_auth(API_TOKEN)
        .json(&json!({ "customer": "ada", "feature": "projects" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        check["allowed"], false,
        "a fourth project is over the limit"
    );
    assert_eq!(check["reason"], "limit_reached");
    app.finish().await;
}

#[tokio::test]
async fn snapshots_follow_usage_coalesced_but_at_once_past_the_soft_limit() {
    let app = Usage::spawn("2026-11-20T12:00:00Z").await;
    let deps = app.deps(None);
    let used_in_snapshot = |snapshot: Value| snapshot["features"]["api_calls"]["used"].clone();
    let one = json!({ "customer": "ada", "feature": "api_calls", "amount": 1 });

    app.consume(one.clone()).await;
    assert_eq!(
        used_in_snapshot(app.snapshot("ada").await),
        1,
        "the first change shows at once"
    );
    app.consume(one.clone()).await;
    assert_eq!(
        used_in_snapshot(app.snapshot("ada").await),
        1,
        "a second change within the window waits"
    );
    assert_eq!(
        usage_freshness::run_once(&deps, app.now()).await.unwrap(),
        0
    );

    app.clock.set(at("2026-11-20T12:00:06Z"));
    usage_freshness::run_once(&deps, app.now()).await.unwrap();
    assert_eq!(
        used_in_snapshot(app.snapshot("ada").await),
        2,
        "the window's end catches up"
    );

    // Crossing warn_at (8 of 10) rebuilds at once, window or not.
    app.clock.set(at("2026-11-20T12:00:07Z"));
    let answer: Value = app
        .consume(json!({ "customer": "ada", "feature": "api_calls", "amount": 6 }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["warning"], "soft_limit");
    assert_eq!(used_in_snapshot(app.snapshot("ada").await), 8);
    app.finish().await;
}

#[tokio::test]
async fn overage_reaches_polar_once_even_when_the_first_attempts_fail() {
    let app = Usage::spawn("2026-11-20T12:00:00Z").await;
    let sim = polar_sim::Sim::start(polar_sim::SimConfig {
        seed_catalog: true,
        clock_start: Some(app.now()),
        ..polar_sim::SimConfig::default()
    })
    .await
    .unwrap();
    sim.create_customer("ada").unwrap();
    let mut config = ClientConfig::new(
        sim.base_url(),
        SecretString::from(sim.access_token().to_owned()),
    );
    // Give up on the second 429 in a row, so the outbox sees the failure and backs off.
    config.max_rate_limit_waits = 1;
    let polar = PolarClient::new(config).unwrap();
    let deps = app.deps(Some(polar));

    // 13 calls against a limit of 10 that bills overage: 3 billed units, one per late event.
    let events: Vec<Value> = (0..13)
        .map(|i| {
            event(
                &format!("call-{i:02}"),
                "ada",
                "api_calls",
                1,
                &format!("2026-11-20T11:00:{i:02}Z"),
            )
        })
        .collect();
    assert_eq!(app.ingest(&events).await["accepted"], 13);
    assert_eq!(app.ingest(&events).await["duplicates"], 13);
    let consumed: Value = app
        .consume(json!({ "customer": "ada", "feature": "api_calls", "amount": 2, "event_id": "call-13" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(consumed["allowed"], true);
    assert_eq!(consumed["overage"], 2);
    assert_eq!(consumed["warning"], "overage");
    assert_eq!(app.count("overage_outbox").await, 4);

    sim.throttle(3, 0);
    let first = usage_processing::run_once(&deps, app.now()).await.unwrap();
    assert_eq!((first.overage.sent, first.overage.failed), (0, 4));
    let backing_off = usage_processing::run_once(&deps, app.now()).await.unwrap();
    assert_eq!(
        backing_off.overage,
        Default::default(),
        "not retried before its backoff"
    );
    let later = app.now() + chrono::Duration::seconds(11);
    let second = usage_processing::run_once(&deps, later).await.unwrap();
    assert_eq!((second.overage.sent, second.overage.failed), (4, 0));
    let idle = usage_processing::run_once(&deps, later).await.unwrap();
    assert_eq!(
        idle.overage,
        Default::default(),
        "sent rows are never sent again"
    );

    // A crash after Polar accepted a batch but before it was marked sent: the rows go again,
    // and Polar skips them by external_id.
    sqlx::query("UPDATE overage_outbox SET sent_at = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    let resent = usage_processing::run_once(&deps, later).await.unwrap();
    assert_eq!(resent.overage.sent, 4);

    let meters: Value = app
        .client
        .get(format!("{}/v1/customer-meters/", sim.base_url()))
        .bearer_auth(sim.access_token())
        .query(&[("external_customer_id", "ada")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meters["items"][0]["consumed_units"], 4, "{meters:#}");
    let (units,): (i64,) = sqlx::query_as("SELECT sum(units)::int8 FROM overage_outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(units, 5, "3 units from the batch, 2 from the consume call");
    sim.shutdown().await;
    app.finish().await;
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send,
{
    let mut outputs = Vec::new();
    let pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut pending: Vec<_> = pinned.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => {
                        *result = Some(output);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.extend(results.into_iter().flatten());
    outputs
}
