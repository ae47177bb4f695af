//! Allowance leases of exact features against a real service on a fresh database: concurrent
//! grants never pass the limit, a settlement counts once however often it is retried, expired
//! leases count as fully used, and `consume` calls share the budget with open leases.

use crate::support::{API_TOKEN, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::task::JoinSet;
use tollgate_sync::jobs::scheduler::Finished;
use tollgate_sync::jobs::{self, lease_expiry};

/// `api_calls` is exact with a limit of 50 a month; `plain` is metered but not exact.
const CATALOG: &str = r#"
default_plan = "free"

[features]
api_calls = { type = "metered", reset = "month", exact = true, lease = 10 }
plain     = { type = "metered", reset = "month" }

[plans.free]
name = "Free"
rank = 0
limits = { api_calls = 50, plain = 5 }

[plans.pro]
name = "Pro"
rank = 1
polar_metadata = { plan = "pro" }
limits = { api_calls = 1000, plain = 100 }
"#;

struct Leases {
    app: TestApp,
    catalog_file: std::path::PathBuf,
}

impl std::ops::Deref for Leases {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Leases {
    async fn spawn(now: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "tollgate_leases_{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&path, CATALOG).unwrap();
        Self {
            app: TestApp::spawn_with_catalog(now, path.clone()).await,
            catalog_file: path,
        }
    }

    async fn finish(self) {
        self.app.finish().await;
        let _ = std::fs::remove_file(&self.catalog_file);
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        post(&self.client, &format!("{}{path}", self.address), body).await
    }

    async fn lease(&self, want: u64) -> (StatusCode, Value) {
        self.post(
            "/v1/leases",
            json!({ "customer": "ada", "feature": "api_calls", "want": want }),
        )
        .await
    }

    async fn settle(&self, lease: &Value, used: u64) -> (StatusCode, Value) {
        let id = lease["id"].as_str().unwrap();
        self.post(&format!("/v1/leases/{id}/settle"), json!({ "used": used }))
            .await
    }

    async fn consume(&self, amount: u64) -> Value {
        let (status, answer) = self
            .post(
                "/v1/check",
                json!({ "customer": "ada", "feature": "api_calls", "amount": amount, "consume": true }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer:#}");
        answer
    }

    /// The period's counter as stored (settled units only, without open leases).
    async fn counted(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT COALESCE(SUM(used), 0)::bigint FROM usage_counters
             WHERE customer = 'ada' AND feature = 'api_calls'",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    async fn rows(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    fn deps(&self) -> jobs::Deps {
        jobs::Deps {
            pool: self.pool.clone(),
            catalog: Arc::new(tollgate_gate::Catalog::parse(CATALOG).unwrap()),
            polar: None,
            clock: self.clock.clone(),
        }
    }
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (StatusCode, Value) {
    let response = client
        .post(url)
        .bearer_auth(API_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn concurrent_lease_requests_never_grant_more_than_the_limit() {
    let app = Leases::spawn("2026-11-20T12:00:00Z").await;
    let mut requests = JoinSet::new();
    for _ in 0..24 {
        let (client, url) = (app.client.clone(), format!("{}/v1/leases", app.address));
        requests.spawn(async move {
            post(
                &client,
                &url,
                json!({ "customer": "ada", "feature": "api_calls", "want": 7 }),
            )
            .await
        });
    }
    let mut granted = 0;
    let mut empty = 0;
    while let Some(answer) = requests.join_next().await {
        let (status, lease) = answer.unwrap();
        let units = lease["granted"].as_u64().unwrap();
        assert!(units <= 7, "{lease:#}");
        if units == 0 {
            assert_eq!(status, StatusCode::OK);
            assert_eq!(lease["id"], Value::Null);
            assert_eq!(lease["decision"]["reason"], "limit_reached", "{lease:#}");
            empty += 1;
        } else {
            assert_eq!(status, StatusCode::CREATED);
            assert!(lease["id"].is_string());
            granted += units;
        }
    }
    assert_eq!(granted, 50, "the leases together hold exactly the limit");
    assert!(empty >= 16, "{empty} requests found nothing left");
    assert_eq!(
        app.consume(1).await["allowed"],
        false,
        "leased units are spent"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_settlement_retried_counts_once_and_returns_the_rest() {
    let app = Leases::spawn("2026-11-20T12:00:00Z").await;
    let (status, lease) = app.lease(10).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(lease["granted"], 10);
    assert_eq!(lease["decision"]["remaining"], 40);
    assert_eq!(lease["resets_at"], "2026-12-01T00:00:00Z");

    let (status, first) = app.settle(&lease, 4).await;
    assert_eq!(status, StatusCode::OK, "{first:#}");
    assert_eq!(first["used"], 4);
    assert_eq!(first["returned"], 6);
    assert_eq!(first["settled_by"], "holder");
    assert_eq!(first["duplicate"], false);
    for used in [4, 4, 9, 4, 0] {
        let (status, again) = app.settle(&lease, used).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["duplicate"], true);
        assert_eq!(again["used"], 4, "the first settlement stands");
    }
    assert_eq!(app.counted().await, 4, "counted once");
    assert_eq!(
        app.rows("usage_events").await,
        1,
        "one usage event for the lease"
    );
    assert_eq!(app.consume(0).await["used"], 4);

    let (_, next) = app.lease(100).await;
    assert_eq!(
        next["granted"], 46,
        "the 6 returned units are granted again"
    );
    app.finish().await;
}

#[tokio::test]
async fn concurrent_settlements_of_one_lease_count_once() {
    let app = Leases::spawn("2026-11-20T12:00:00Z").await;
    let (_, lease) = app.lease(10).await;
    let url = format!(
        "{}/v1/leases/{}/settle",
        app.address,
        lease["id"].as_str().unwrap()
    );
    let mut settles = JoinSet::new();
    for _ in 0..5 {
        let (client, url) = (app.client.clone(), url.clone());
        settles.spawn(async move { post(&client, &url, json!({ "used": 7 })).await });
    }
    let mut firsts = 0;
    while let Some(answer) = settles.join_next().await {
        let (status, settled) = answer.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(settled["used"], 7);
        firsts += usize::from(settled["duplicate"] == false);
    }
    assert_eq!(firsts, 1);
    assert_eq!(app.counted().await, 7);
    app.finish().await;
}

#[tokio::test]
async fn expired_leases_are_settled_as_fully_used() {
    let app = Leases::spawn("2026-11-20T12:00:00Z").await;
    let (_, lease) = app.lease(10).await;
    let (_, kept) = app
        .post(
            "/v1/leases",
            json!({ "customer": "ada", "feature": "api_calls", "want": 5, "ttl_seconds": 3600 }),
        )
        .await;
    assert_eq!(kept["granted"], 5);

    app.clock
        .set(app.clock.now() + chrono::Duration::minutes(6));
    let deps = app.deps();
    let finished = lease_expiry::run_once(&deps, app.clock.now())
        .await
        .unwrap();
    assert_eq!(finished, Finished::Succeeded(json!({ "settled": 1 })));
    assert_eq!(app.counted().await, 10, "the whole lease counts as used");
    let again = lease_expiry::run_once(&deps, app.clock.now())
        .await
        .unwrap();
    assert_eq!(again, Finished::Succeeded(json!({ "settled": 0 })));

    // The holder's late settlement finds it settled: nothing is counted twice or given back.
    let (_, late) = app.settle(&lease, 2).await;
    assert_eq!(late["duplicate"], true);
    assert_eq!(late["settled_by"], "expiry");
    assert_eq!(late["used"], 10);
    assert_eq!(app.counted().await, 10);
    // The lease still open counts as spent: 50 − 10 used − 5 leased.
    assert_eq!(app.consume(0).await["remaining"], 35);
    app.finish().await;
}

#[tokio::test]
async fn a_grant_settles_its_counters_expired_leases_first() {
    let app = Leases::spawn("2026-11-20T12:00:00Z").await;
    let (_, _lost) = app.lease(10).await;
    app.clock
        .set(app.clock.now() + chrono::Duration::minutes(6));
    let (_, next) = app.lease(100).await;
    assert_eq!(next["granted"], 40);
    assert_eq!(
        app.counted().await,
        10,
        "the lost lease was counted as used"
    );
    app.finish().await;
}

#[tokio::test]
async fn consume_calls_and_leases_share_one_budget() {
    let app = Leases::spawn("2026-11-20T12:00:00Z").await;
    let (_, lease) = app.lease(45).await;
    assert_eq!(lease["granted"], 45);
    let refused = app.consume(6).await;
    assert_eq!(refused["allowed"], false);
    assert_eq!(refused["used"], 45, "leased units count as spent");
    assert_eq!(refused["remaining"], 5);
    assert_eq!(app.consume(5).await["allowed"], true);
    let (status, nothing) = app.lease(1).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(nothing["granted"], 0);

    // Settling gives back what the edge did not spend, to either side.
    app.settle(&lease, 30).await;
    assert_eq!(app.consume(15).await["allowed"], true);
    assert_eq!(app.consume(1).await["allowed"], false);
    assert_eq!(app.counted().await, 50);

    // Concurrently, from a fresh month: consumes and grants together stop at the limit.
    app.clock.set(crate::support::at("2026-12-02T00:00:00Z"));
    let mut calls = JoinSet::new();
    for i in 0..30 {
        let (client, base) = (app.client.clone(), app.address.clone());
        calls.spawn(async move {
            if i % 2 == 0 {
                let (_, lease) = post(
                    &client,
                    &format!("{base}/v1/leases"),
                    json!({ "customer": "ada", "feature": "api_calls", "want": 4 }),
                )
                .await;
                lease["granted"].as_u64().unwrap()
            } else {
                let (_, answer) = post(
                    &client,
                    &format!("{base}/v1/check"),
                    json!({ "customer": "ada", "feature": "api_calls", "amount": 3, "consume": true }),
                )
                .await;
                if answer["consumed"] == true { 3 } else { 0 }
            }
        });
    }
    let mut spent = 0;
    while let Some(units) = calls.join_next().await {
        spent += units.unwrap();
    }
    assert!(spent <= 50, "{spent} units spent of a limit of 50");
    assert!(
        spent >= 47,
        "at most one lease or consume short of the limit: {spent}"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_new_period_leases_from_zero_and_an_old_lease_settles_into_its_own_period() {
    let app = Leases::spawn("2026-11-30T23:00:00Z").await;
    let (_, november) = app.lease(50).await;
    assert_eq!(november["granted"], 50);
    app.clock.set(crate::support::at("2026-12-01T00:00:01Z"));
    let (_, december) = app.lease(50).await;
    assert_eq!(december["granted"], 50, "December starts at zero");
    assert_eq!(december["resets_at"], "2027-01-01T00:00:00Z");
    app.settle(&november, 20).await;
    let (period, used): (chrono::DateTime<chrono::Utc>, i64) =
        sqlx::query_as("SELECT period_start, used FROM usage_counters WHERE used > 0")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(period, crate::support::at("2026-11-01T00:00:00Z"));
    assert_eq!(used, 20);
    app.finish().await;
}

#[tokio::test]
async fn bad_lease_requests_are_refused_and_change_nothing() {
    let app = Leases::spawn("2026-11-20T12:00:00Z").await;
    for (body, status, code) in [
        (
            json!({ "customer": "ada", "feature": "nope", "want": 1 }),
            422,
            "unknown_feature",
        ),
        (
            json!({ "customer": "ada", "feature": "plain", "want": 1 }),
            422,
            "not_exact",
        ),
        (
            json!({ "customer": "ada", "feature": "api_calls", "want": 0 }),
            422,
            "invalid_want",
        ),
        (
            json!({ "customer": "ada", "feature": "api_calls", "want": 1, "ttl_seconds": 0 }),
            422,
            "invalid_ttl",
        ),
        (
            json!({ "customer": "", "feature": "api_calls", "want": 1 }),
            400,
            "invalid_request",
        ),
        (
            json!({ "customer": "ada", "feature": "api_calls" }),
            400,
            "invalid_request",
        ),
    ] {
        let (got, answer) = app.post("/v1/leases", body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body} → {answer:#}");
        assert_eq!(answer["code"], code, "{body}");
        assert!(!answer["message"].as_str().unwrap().is_empty());
    }
    let (_, lease) = app.lease(10).await;
    let (status, answer) = app.settle(&lease, 11).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["code"], "invalid_used");
    let unknown = json!({ "id": uuid::Uuid::now_v7().to_string() });
    let (status, answer) = app.settle(&unknown, 1).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["code"], "unknown_lease");
    let unauthenticated = app
        .client
        .post(format!("{}/v1/leases", app.address))
        .json(&json!({ "customer": "ada", "feature": "api_calls", "want": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.rows("leases").await, 1, "only the one good lease");
    assert_eq!(app.counted().await, 0);
    app.finish().await;
}

#[tokio::test]
async fn rejects_a_nul_in_a_lease_customer_with_400() {
    let app = Leases::spawn("2026-11-20T12:00:00Z").await;
    let body = json!({ "customer": "ada\u{0}", "feature": "api_calls", "want": 1 });
    let (status, answer) = app.post("/v1/leases", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer:#}");
    assert_eq!(answer["code"], "invalid_request");
    assert!(answer["message"].as_str().unwrap().contains("U+0000"));
    assert_eq!(app.rows("leases").await, 0);
    app.finish().await;
}
