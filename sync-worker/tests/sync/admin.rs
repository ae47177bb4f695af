//! Admin and support over HTTP against a real service and database: every route under each
//! role, grants that move `/v1/check`'s limit and end early, usage adjustments, the customer
//! search and support view of the simulator's demo customers, failed payments, the audit log,
//! CSV exports (over HTTP and from the command line), edge API keys published to KV and removed
//! again, and the limit on failed authentications. Every bad input is refused with a clear 4xx
//! and changes nothing, not even the audit log.

use crate::support::{API_TOKEN, CUSTOMER, TestApp, at, fixture};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use axum::routing::{post, put};
use polar_sim::{RateLimit, Sim, SimConfig, SimHandle};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tollgate_sync::auth::{self, Role};
use tollgate_sync::polar_client::{ClientConfig, PolarClient};
use tollgate_sync::publish::{self, CloudflareSink, Sink};
use tollgate_sync::reconcile::{Mode, Quiet, Reconciler, Resource};

/// One answer: status, headers, body (JSON, or the text of a CSV).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.text)
    }
}

/// The service with a token of every role.
struct Desk {
    app: TestApp,
    tokens: BTreeMap<Role, String>,
}

impl std::ops::Deref for Desk {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Desk {
    async fn open(app: TestApp) -> Self {
        let mut tokens = BTreeMap::new();
        let mut conn = app.pool.acquire().await.unwrap();
        for role in [Role::App, Role::Viewer, Role::Support, Role::Admin] {
            let name = format!("{role}-desk");
            let (_, secret) = auth::create(&mut conn, &name, role, "test", app.clock.now())
                .await
                .unwrap();
            tokens.insert(role, secret.expose_secret().to_owned());
        }
        drop(conn);
        Desk { app, tokens }
    }

    async fn spawn(now: &str) -> Self {
        Self::open(TestApp::spawn(now).await).await
    }

    fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// A call as `support`.
    async fn support(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, Some(self.token(Role::Support)), body)
            .await
    }

    /// A call as `viewer`.
    async fn view(&self, path: &str) -> Answer {
        self.call("GET", path, Some(self.token(Role::Viewer)), None)
            .await
    }

    /// A call with the bootstrap token (role `admin`).
    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, Some(API_TOKEN), body).await
    }

    /// Rows of every table an admin call may touch, the audit log included.
    async fn state(&self) -> Vec<(String, i64)> {
        let mut counts = self.row_counts().await;
        for table in [
            "grants",
            "usage_adjustments",
            "usage_counters",
            "api_keys",
            "api_key_outbox",
            "metered_customers",
        ] {
            let (n,): (i64,) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                    .fetch_one(&self.pool)
                    .await
                    .unwrap();
            counts.push((table.to_owned(), n));
        }
        let used: Option<i64> = sqlx::query_scalar("SELECT sum(used)::int8 FROM usage_counters")
            .fetch_one(&self.pool)
            .await
            .unwrap();
        counts.push(("used".to_owned(), used.unwrap_or(0)));
        counts
    }

    /// The limit `/v1/check` gives `customer` for one more unit of `feature`.
    async fn limit(&self, customer: &str, feature: &str) -> Value {
        self.check(customer, feature, 1).await["limit"].clone()
    }

    /// The audit rows of `action`: (actor, role, customer), oldest first.
    async fn audited(&self, action: &str) -> Vec<(String, Option<String>, Option<String>)> {
        sqlx::query_as("SELECT actor, role, customer FROM audit_log WHERE action = $1 ORDER BY id")
            .bind(action)
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}

/// The Polar simulator's demo (five customers, one past due), reconciled into a fresh service.
struct Demo {
    desk: Desk,
    sim: SimHandle,
}

impl Demo {
    async fn open() -> Self {
        let sim = Sim::start(SimConfig {
            seed_demo: true,
            clock_start: Some(at("2026-12-01T10:00:00Z")),
            rate_limit: RateLimit::off(),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let app = TestApp::spawn_configured(sim.now(), |_| {}).await;
        let polar = PolarClient::new(ClientConfig::new(
            sim.base_url(),
            SecretString::from(sim.access_token()),
        ))
        .unwrap();
        let reconciler = Reconciler {
            pool: app.pool.clone(),
            catalog: Arc::new(
                tollgate_sync::app::load_catalog(&crate::support::catalog_path()).unwrap(),
            ),
            polar,
        };
        reconciler
            .run(&Resource::ALL, Mode::Full, app.clock.now(), &Quiet)
            .await
            .unwrap();
        app.applier.settled().await;
        Demo {
            desk: Desk::open(app).await,
            sim,
        }
    }

    async fn finish(self) {
        self.sim.shutdown().await;
        self.desk.app.finish().await;
    }
}

/// The customer of the fixtures, stored (free plan: one project), with a snapshot.
async fn stored_customer(desk: &Desk) {
    assert_eq!(
        desk.deliver_at_its_time(&fixture("customer.created")).await,
        "applied"
    );
}

#[tokio::test]
async fn each_role_reaches_exactly_its_admin_routes() {
    let desk = Desk::spawn("2026-12-01T10:00:00Z").await;
    stored_customer(&desk).await;
    let grant =
        json!({"customer": "nobody_here", "feature": "projects", "amount": 1, "reason": "r"});
    let adjustment =
        json!({"customer": "nobody_here", "feature": "api_calls", "delta": 1, "reason": "r"});
    let key = json!({"customer": "", "name": "k"});
    let view = format!("/v1/admin/customers/{CUSTOMER}");
    // (method, path, body, the least role). Mutating calls are shaped to be refused after
    // authorisation (unknown ids and customers), so the table changes nothing.
    let routes: Vec<(&str, &str, Option<Value>, Role)> = vec![
        ("GET", "/v1/admin/customers?q=us", None, Role::Viewer),
        ("GET", &view, None, Role::Viewer),
        ("GET", "/v1/admin/grants", None, Role::Viewer),
        ("POST", "/v1/admin/grants", Some(grant), Role::Support),
        ("DELETE", "/v1/admin/grants/999999", None, Role::Support),
        (
            "POST",
            "/v1/admin/usage-adjustments",
            Some(adjustment),
            Role::Support,
        ),
        ("GET", "/v1/admin/failed-payments", None, Role::Viewer),
        (
            "GET",
            "/v1/admin/webhooks?status=failed",
            None,
            Role::Viewer,
        ),
        (
            "POST",
            "/v1/admin/webhooks/no-such-id/replay",
            None,
            Role::Support,
        ),
        ("GET", "/v1/admin/audit", None, Role::Viewer),
        ("GET", "/v1/admin/exports/customers.csv", None, Role::Viewer),
        ("GET", "/v1/admin/exports/audit.csv", None, Role::Viewer),
        ("GET", "/v1/admin/api-keys", None, Role::Viewer),
        ("POST", "/v1/admin/api-keys", Some(key), Role::Admin),
        ("DELETE", "/v1/admin/api-keys/999999", None, Role::Admin),
    ];
    let before = desk.state().await;
    for (method, path, body, least) in &routes {
        for token in [None, Some("tg_not_a_token_of_ours_000000000")] {
            let answer = desk.call(method, path, token, body.clone()).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path}: {answer:?}"
            );
            assert_eq!(answer.body["code"], "unauthorized");
        }
        for role in [Role::App, Role::Viewer, Role::Support, Role::Admin] {
            let answer = desk
                .call(method, path, Some(desk.token(role)), body.clone())
                .await;
            if role < *least {
                assert_eq!(
                    answer.status,
                    StatusCode::FORBIDDEN,
                    "{role} {method} {path}: {answer:?}"
                );
                assert_eq!(answer.body["code"], "forbidden");
                assert!(
                    answer.body["message"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("`{least}`")),
                    "{answer:?}"
                );
            } else {
                assert!(
                    answer.status.is_success() || answer.status.is_client_error(),
                    "{role} {method} {path}: {answer:?}"
                );
                assert!(
                    ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&answer.status),
                    "{role} may {method} {path}: {answer:?}"
                );
            }
        }
    }
    assert_eq!(
        desk.state().await,
        before,
        "the role table changed something"
    );
    desk.app.finish().await;
}

#[tokio::test]
async fn a_grant_raises_the_limit_until_it_is_ended_or_expires() {
    let desk = Desk::spawn("2026-12-01T10:00:00Z").await;
    stored_customer(&desk).await;
    let now = desk.clock.now();
    assert_eq!(
        desk.limit(CUSTOMER, "projects").await,
        json!(1),
        "the free plan"
    );
    let revision = |snapshot: Option<Value>| snapshot.unwrap()["revision"].as_u64().unwrap();
    let first = revision(desk.snapshot(CUSTOMER).await);

    let made = desk
        .support(
            "POST",
            "/v1/admin/grants",
            Some(
                json!({"customer": CUSTOMER, "feature": "projects", "amount": 5,
                        "reason": "migration from the old plan"}),
            ),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    assert_eq!(made.body["amount"], 5);
    assert_eq!(made.body["status"], "live");
    assert!(made.headers.contains_key("x-request-id"));
    assert_eq!(
        desk.limit(CUSTOMER, "projects").await,
        json!(6),
        "plan 1 + grant 5"
    );
    let granted = desk.snapshot(CUSTOMER).await.unwrap();
    assert!(
        revision(Some(granted.clone())) > first,
        "the snapshot was rebuilt"
    );
    assert_eq!(granted["features"]["projects"]["grants"][0]["amount"], 5);
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM publish_outbox WHERE customer = $1 AND revision = $2",
    )
    .bind(CUSTOMER)
    .bind(revision(Some(granted)) as i64)
    .fetch_one(&desk.pool)
    .await
    .unwrap();
    assert_eq!(queued, 1, "and queued for publication");

    // A boolean grant turns a feature on; one that expires stops by itself at its expiry.
    let expires = now + chrono::Duration::days(2);
    let made_bool = desk
        .support(
            "POST",
            "/v1/admin/grants",
            Some(
                json!({"customer": CUSTOMER, "feature": "advanced_analytics", "amount": true,
                        "expires_at": expires, "reason": "trial of analytics"}),
            ),
        )
        .await;
    assert_eq!(made_bool.status, StatusCode::CREATED, "{made_bool:?}");
    assert_eq!(
        desk.check(CUSTOMER, "advanced_analytics", 1).await["allowed"],
        true
    );
    desk.clock.set(expires);
    assert_eq!(
        desk.check(CUSTOMER, "advanced_analytics", 1).await["allowed"],
        false,
        "expired at expires_at"
    );
    desk.clock.set(now + chrono::Duration::minutes(1));

    // Listed, then ended early: the limit falls back at once.
    let listed = desk
        .view(&format!("/v1/admin/grants?customer={CUSTOMER}"))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["feature"], "advanced_analytics", "newest first");
    let id = made.body["id"].as_i64().unwrap();
    let ended = desk
        .support(
            "DELETE",
            &format!("/v1/admin/grants/{id}?reason=asked+by+customer"),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{ended:?}");
    assert_eq!(ended.body["status"], "ended");
    assert_eq!(desk.limit(CUSTOMER, "projects").await, json!(1));
    let again = desk
        .support("DELETE", &format!("/v1/admin/grants/{id}"), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.body["code"], "unknown_grant");

    // Each change is audited with its actor and role.
    let support = Some("support".to_owned());
    let customer = Some(CUSTOMER.to_owned());
    assert_eq!(
        desk.audited("grants.create").await,
        vec![
            (
                "token:support-desk".to_owned(),
                support.clone(),
                customer.clone()
            ),
            (
                "token:support-desk".to_owned(),
                support.clone(),
                customer.clone()
            )
        ]
    );
    assert_eq!(
        desk.audited("grants.end").await,
        vec![("token:support-desk".to_owned(), support, customer)]
    );
    desk.app.finish().await;
}

#[tokio::test]
async fn an_adjustment_moves_the_count_never_below_zero_and_is_explained() {
    let desk = Desk::spawn("2026-12-01T10:00:00Z").await;
    let consumed = desk
        .client
        .post(format!("{}/v1/check", desk.address))
        .bearer_auth(API_TOKEN)
        .json(
            &json!({"customer": "user_free", "feature": "api_calls", "amount": 3,
                      "consume": true, "event_id": "e1"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(consumed.status(), StatusCode::OK);
    assert_eq!(desk.check("user_free", "api_calls", 1).await["used"], 3);

    let up = desk
        .support(
            "POST",
            "/v1/admin/usage-adjustments",
            Some(
                json!({"customer": "user_free", "feature": "api_calls", "delta": 250,
                        "reason": "events lost in an outage"}),
            ),
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{up:?}");
    assert_eq!(
        (up.body["used"].clone(), up.body["applied"].clone()),
        (json!(253), json!(250))
    );
    assert_eq!(desk.check("user_free", "api_calls", 1).await["used"], 253);

    let down = desk
        .support(
            "POST",
            "/v1/admin/usage-adjustments",
            Some(
                json!({"customer": "user_free", "feature": "api_calls", "delta": -1000,
                        "reason": "refund of a runaway script"}),
            ),
        )
        .await;
    assert_eq!(down.status, StatusCode::CREATED, "{down:?}");
    assert_eq!(down.body["used"], 0, "never below 0");
    assert_eq!(down.body["applied"], -253);
    assert_eq!(desk.check("user_free", "api_calls", 1).await["used"], 0);

    // The count is its events plus what its adjustments applied.
    let (events, applied, used): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT sum(amount)::int8 FROM usage_events WHERE customer = $1),
                (SELECT sum(applied)::int8 FROM usage_adjustments WHERE customer = $1),
                (SELECT used FROM usage_counters WHERE customer = $1 AND feature = 'api_calls')",
    )
    .bind("user_free")
    .fetch_one(&desk.pool)
    .await
    .unwrap();
    assert_eq!((events, applied, used), (3, -3, 0));
    assert_eq!(desk.audited("usage.adjust").await.len(), 2);
    desk.app.finish().await;
}

#[tokio::test]
async fn bad_admin_input_is_refused_and_changes_nothing() {
    let desk = Desk::spawn("2026-12-01T10:00:00Z").await;
    stored_customer(&desk).await;
    let past = "2026-09-01T00:00:00Z";
    let cases: Vec<(&str, &str, Option<Value>, StatusCode, &str)> = vec![
        (
            "POST",
            "/v1/admin/grants",
            Some(json!({"customer": CUSTOMER, "feature": "teleport", "amount": 1, "reason": "r"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_feature",
        ),
        (
            "POST",
            "/v1/admin/grants",
            Some(
                json!({"customer": "user_nobody", "feature": "projects", "amount": 1, "reason": "r"}),
            ),
            StatusCode::NOT_FOUND,
            "unknown_customer",
        ),
        (
            "POST",
            "/v1/admin/grants",
            Some(
                json!({"customer": CUSTOMER, "feature": "priority_support", "amount": 5, "reason": "r"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
        ),
        (
            "POST",
            "/v1/admin/grants",
            Some(
                json!({"customer": CUSTOMER, "feature": "projects", "amount": true, "reason": "r"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
        ),
        (
            "POST",
            "/v1/admin/grants",
            Some(json!({"customer": CUSTOMER, "feature": "projects", "amount": -2, "reason": "r"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
        ),
        (
            "POST",
            "/v1/admin/grants",
            Some(
                json!({"customer": CUSTOMER, "feature": "projects", "amount": 2,
                     "expires_at": past, "reason": "r"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_expiry",
        ),
        (
            "POST",
            "/v1/admin/grants",
            Some(
                json!({"customer": CUSTOMER, "feature": "projects", "amount": 2,
                     "expires_at": "next tuesday", "reason": "r"}),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "POST",
            "/v1/admin/grants",
            Some(json!({"customer": CUSTOMER, "feature": "projects", "amount": 2})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason_required",
        ),
        (
            "POST",
            "/v1/admin/grants",
            Some(json!({"customer": CUSTOMER, "feature": "projects", "amount": 2, "reason": "  "})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason_required",
        ),
        (
            "POST",
            "/v1/admin/grants",
            Some(json!({"customer": CUSTOMER, "feature": "projects", "reason": "r"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "POST",
            "/v1/admin/usage-adjustments",
            Some(json!({"customer": CUSTOMER, "feature": "projects", "delta": 1, "reason": "r"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_metered",
        ),
        (
            "POST",
            "/v1/admin/usage-adjustments",
            Some(
                json!({"customer": CUSTOMER, "feature": "advanced_analytics", "delta": 1, "reason": "r"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_metered",
        ),
        (
            "POST",
            "/v1/admin/usage-adjustments",
            Some(
                json!({"customer": CUSTOMER, "feature": "api_calls", "delta": 1.5, "reason": "r"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_delta",
        ),
        (
            "POST",
            "/v1/admin/usage-adjustments",
            Some(
                json!({"customer": CUSTOMER, "feature": "api_calls", "delta": "10", "reason": "r"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_delta",
        ),
        (
            "POST",
            "/v1/admin/usage-adjustments",
            Some(json!({"customer": CUSTOMER, "feature": "api_calls", "delta": 10})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason_required",
        ),
        (
            "POST",
            "/v1/admin/usage-adjustments",
            Some(
                json!({"customer": "user_nobody", "feature": "api_calls", "delta": 10, "reason": "r"}),
            ),
            StatusCode::NOT_FOUND,
            "unknown_customer",
        ),
        (
            "GET",
            "/v1/admin/exports/orders.csv?from=2026-12-02&to=2026-12-01",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_range",
        ),
        (
            "GET",
            "/v1/admin/exports/orders.csv?from=yesterday",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "GET",
            "/v1/admin/exports/invoices.csv",
            None,
            StatusCode::NOT_FOUND,
            "unknown_export",
        ),
        (
            "GET",
            "/v1/admin/customers?q=u",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "query_too_short",
        ),
        (
            "GET",
            "/v1/admin/customers/user_nobody",
            None,
            StatusCode::NOT_FOUND,
            "unknown_customer",
        ),
        (
            "GET",
            "/v1/admin/audit?since=last+week",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "DELETE",
            "/v1/admin/grants/424242",
            None,
            StatusCode::NOT_FOUND,
            "unknown_grant",
        ),
        (
            "DELETE",
            "/v1/admin/grants/not-a-number",
            None,
            StatusCode::NOT_FOUND,
            "unknown_grant",
        ),
        (
            "DELETE",
            "/v1/admin/api-keys/424242",
            None,
            StatusCode::NOT_FOUND,
            "unknown_api_key",
        ),
        (
            "POST",
            "/v1/admin/webhooks/no-such-delivery/replay",
            None,
            StatusCode::NOT_FOUND,
            "unknown_webhook",
        ),
        (
            "POST",
            "/v1/admin/api-keys",
            Some(json!({"customer": CUSTOMER, "name": " "})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
        ),
    ];
    let before = desk.state().await;
    for (method, path, body, status, code) in cases {
        let answer = desk.admin(method, path, body.clone()).await;
        assert_eq!(
            answer.status, status,
            "{method} {path} {body:?}: {answer:?}"
        );
        assert_eq!(
            answer.body["code"], code,
            "{method} {path} {body:?}: {answer:?}"
        );
        assert!(
            !answer.body["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{answer:?}"
        );
        assert_eq!(
            desk.state().await,
            before,
            "{method} {path} {body:?} changed something"
        );
    }
    desk.app.finish().await;
}

#[tokio::test]
async fn support_finds_the_demo_customers_and_sees_erin_past_due() {
    let demo = Demo::open().await;
    let desk = &demo.desk;

    // Search by external id, Polar id and e-mail prefix (any case).
    let found = desk.view("/v1/admin/customers?q=user_").await;
    assert_eq!(found.status, StatusCode::OK, "{found:?}");
    let customers: Vec<&str> = found.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customer"].as_str().unwrap())
        .collect();
    assert_eq!(
        customers,
        [
            "user_alice",
            "user_bob",
            "user_carol",
            "user_dave",
            "user_erin"
        ]
    );
    let erin = desk.view("/v1/admin/customers?q=ERIN@ex").await;
    let items = erin.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{erin:?}");
    assert_eq!(items[0]["customer"], "user_erin");
    assert_eq!(items[0]["email"], "erin@example.com");
    assert_eq!(items[0]["status"], "past_due");
    assert_eq!(items[0]["plan"], "premium");
    let polar_id = items[0]["polar_id"].as_str().unwrap();
    let by_id = desk
        .view(&format!("/v1/admin/customers?q={}", &polar_id[..8]))
        .await;
    assert!(
        by_id.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["customer"] == "user_erin"),
        "{by_id:?}"
    );

    // The support view: everything about Erin in one answer.
    let view = desk.view("/v1/admin/customers/user_erin").await;
    assert_eq!(view.status, StatusCode::OK, "{view:?}");
    let body = &view.body;
    assert_eq!(body["customer"]["email"], "erin@example.com");
    assert_eq!(body["customer"]["polar_id"], polar_id);
    assert_eq!(body["plan"]["key"], "premium");
    assert_eq!(body["subscriptions"][0]["status"], "past_due");
    assert!(!body["orders"].as_array().unwrap().is_empty(), "{body:#}");
    assert_eq!(body["snapshot"]["customer"], "user_erin");
    let decisions = body["decisions"].as_object().unwrap();
    assert_eq!(
        decisions.len(),
        6,
        "a Decision for every feature of the catalog"
    );
    assert_eq!(decisions["projects"]["limit"], 10);
    assert_eq!(decisions["projects"]["warning"], "payment_past_due");
    assert_eq!(body["usage"][0]["feature"], "api_calls");
    assert_eq!(body["usage"][0]["used"], 0);
    for section in ["grants", "adjustments", "webhooks", "audit", "gauges"] {
        assert!(body[section].is_array(), "{section}: {body:#}");
    }

    // Failed payments: only Erin, with the grace end the engine applies (7 days for Premium).
    let failed = desk.view("/v1/admin/failed-payments").await;
    assert_eq!(failed.status, StatusCode::OK, "{failed:?}");
    let items = failed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{failed:?}");
    let item = &items[0];
    assert_eq!(item["customer"], "user_erin");
    assert_eq!(item["email"], "erin@example.com");
    assert_eq!(item["status"], "past_due");
    assert_eq!(item["plan"], "premium");
    assert_eq!(item["amount_due"], 1900);
    assert_eq!(item["currency"], "usd");
    let since = chrono::DateTime::parse_from_rfc3339(item["since"].as_str().unwrap()).unwrap();
    let grace =
        chrono::DateTime::parse_from_rfc3339(item["grace_ends_at"].as_str().unwrap()).unwrap();
    assert_eq!(grace - since, chrono::Duration::days(7));
    let snapshot_grace = &body["snapshot"]["subscriptions"][0]["grace_ends_at"];
    assert_eq!(
        &item["grace_ends_at"], snapshot_grace,
        "the engine's grace end"
    );
    demo.finish().await;
}

/// Parses CSV text into its header and rows.
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

#[tokio::test]
async fn exports_stream_csv_that_a_reader_parses_and_that_matches_the_rows() {
    let demo = Demo::open().await;
    let desk = &demo.desk;
    // A name and a reason that need quoting.
    sqlx::query("UPDATE customers SET raw = jsonb_set(raw, '{name}', '\"Example, \\\"Dave\\\"\"') WHERE external_id = 'user_dave'")
        .execute(&desk.pool)
        .await
        .unwrap();
    let grant = desk
        .support(
            "POST",
            "/v1/admin/grants",
            Some(
                json!({"customer": "user_dave", "feature": "projects", "amount": 2,
                        "reason": "line one\nline \"two\", with a comma"}),
            ),
        )
        .await;
    assert_eq!(grant.status, StatusCode::CREATED, "{grant:?}");

    for (name, table) in [
        ("customers", "customers"),
        ("subscriptions", "subscriptions"),
        ("orders", "orders"),
        ("usage", "usage_counters"),
        ("audit", "audit_log"),
    ] {
        let answer = desk.view(&format!("/v1/admin/exports/{name}.csv")).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}: {answer:?}");
        assert_eq!(answer.headers["content-type"], "text/csv; charset=utf-8");
        let (header, rows) = parse_csv(&answer.text);
        assert!(!header.is_empty());
        let count: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&desk.pool)
                .await
                .unwrap();
        assert_eq!(rows.len() as i64, count, "{name}: one line per row");
        assert!(rows.iter().all(|row| row.len() == header.len()), "{name}");
    }

    let (header, rows) = parse_csv(&desk.view("/v1/admin/exports/customers.csv").await.text);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let dave = rows
        .iter()
        .find(|row| row[column("customer")] == "user_dave")
        .unwrap();
    assert_eq!(dave[column("name")], "Example, \"Dave\"");
    assert_eq!(dave[column("email")], "dave@example.com");

    let (header, rows) = parse_csv(&desk.view("/v1/admin/exports/audit.csv").await.text);
    let reason = header.iter().position(|h| h == "reason").unwrap();
    assert!(
        rows.iter()
            .any(|row| row[reason] == "line one\nline \"two\", with a comma")
    );

    // Orders match the database, amount by amount; `from`/`to` bound them half-open.
    let (header, rows) = parse_csv(&desk.view("/v1/admin/exports/orders.csv").await.text);
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, total_amount FROM orders ORDER BY (raw->>'created_at')::timestamptz, id",
    )
    .fetch_all(&desk.pool)
    .await
    .unwrap();
    let (id, amount) = (
        header.iter().position(|h| h == "id").unwrap(),
        header.iter().position(|h| h == "amount").unwrap(),
    );
    let exported: Vec<(String, i64)> = rows
        .iter()
        .map(|row| (row[id].clone(), row[amount].parse().unwrap()))
        .collect();
    assert_eq!(exported, stored);
    let future = desk
        .view("/v1/admin/exports/orders.csv?from=2030-01-01")
        .await;
    assert_eq!(parse_csv(&future.text).1.len(), 0, "a header and no rows");
    assert!(future.text.starts_with("id,customer,created_at"));
    let all = desk
        .view("/v1/admin/exports/orders.csv?from=2020-01-01&to=2030-01-01T00:00:00Z")
        .await;
    assert_eq!(parse_csv(&all.text).1.len(), stored.len());

    // The command line writes the same CSV to a file.
    let dir = std::env::temp_dir().join(format!("tollgate-export-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("orders.csv");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["export", "orders", "--out", file.to_str().unwrap()])
        .env("DATABASE_URL", &desk.database.url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        written,
        desk.view("/v1/admin/exports/orders.csv").await.text
    );
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args([
            "export",
            "orders",
            "--from",
            "2026-12-02",
            "--to",
            "2026-12-01",
        ])
        .env("DATABASE_URL", &desk.database.url)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "from after to is refused");
    assert!(String::from_utf8_lossy(&output.stderr).contains("after"));
    std::fs::remove_dir_all(&dir).unwrap();
    demo.finish().await;
}

#[tokio::test]
async fn the_audit_log_shows_each_action_with_its_actor_newest_first() {
    let desk = Desk::spawn("2026-12-01T10:00:00Z").await;
    stored_customer(&desk).await;
    let webhook_id: String = sqlx::query_scalar("SELECT webhook_id FROM webhook_events LIMIT 1")
        .fetch_one(&desk.pool)
        .await
        .unwrap();
    let grant =
        json!({"customer": CUSTOMER, "feature": "projects", "amount": 3, "reason": "goodwill"});
    assert_eq!(
        desk.support("POST", "/v1/admin/grants", Some(grant))
            .await
            .status,
        StatusCode::CREATED
    );
    let adjustment =
        json!({"customer": CUSTOMER, "feature": "api_calls", "delta": 7, "reason": "import"});
    assert_eq!(
        desk.support("POST", "/v1/admin/usage-adjustments", Some(adjustment))
            .await
            .status,
        StatusCode::CREATED
    );
    let replayed = desk
        .support(
            "POST",
            &format!("/v1/admin/webhooks/{webhook_id}/replay"),
            None,
        )
        .await;
    assert_eq!(replayed.status, StatusCode::OK, "{replayed:?}");
    let key = desk
        .admin(
            "POST",
            "/v1/admin/api-keys",
            Some(json!({"customer": CUSTOMER, "name": "backend"})),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED);
    let gauges = desk
        .client
        .put(format!("{}/v1/gauges/{CUSTOMER}", desk.address))
        .bearer_auth(desk.token(Role::App))
        .json(&json!({"projects": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(gauges.status(), StatusCode::OK);

    let log = desk
        .view(&format!("/v1/admin/audit?customer={CUSTOMER}"))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{log:?}");
    let entries: Vec<(String, String, String)> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
                e["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("gauges.set", "token:app-desk", "app"),
        ("api_keys.create", "bootstrap", "admin"),
        ("usage.adjust", "token:support-desk", "support"),
        ("grants.create", "token:support-desk", "support"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(entries, expected, "newest first");
    let first = &log.body["items"][3];
    assert_eq!(first["reason"], "goodwill");
    assert_eq!(first["after"]["amount"], 3);
    assert!(
        first["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(first["at"].as_str().is_some());
    let adjusted = &log.body["items"][2];
    assert_eq!(
        (
            adjusted["before"]["used"].clone(),
            adjusted["after"]["used"].clone()
        ),
        (json!(0), json!(7))
    );

    // Filters: by actor, by action, by time.
    let replays = desk.view("/v1/admin/audit?action=webhook.replay").await;
    let replay = &replays.body["items"][0];
    assert_eq!(replay["actor"], "token:support-desk");
    assert_eq!(replay["subject"], webhook_id);
    let by_bootstrap = desk.view("/v1/admin/audit?actor=bootstrap").await;
    assert_eq!(by_bootstrap.body["items"].as_array().unwrap().len(), 1);
    let later = desk.view("/v1/admin/audit?since=2027-01-01").await;
    assert!(later.body["items"].as_array().unwrap().is_empty());
    desk.app.finish().await;
}

/// A stand-in for Cloudflare's bulk KV endpoints: it applies puts and deletes to a map.
#[derive(Clone, Default)]
struct Kv {
    entries: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Kv {
    async fn start(&self) -> String {
        async fn bulk(
            State(kv): State<Kv>,
            axum::Json(pairs): axum::Json<Vec<Value>>,
        ) -> (AxumStatus, axum::Json<Value>) {
            let mut entries = kv.entries.lock().unwrap();
            for pair in &pairs {
                entries.insert(
                    pair["key"].as_str().unwrap().to_owned(),
                    pair["value"].as_str().unwrap().to_owned(),
                );
            }
            (
                AxumStatus::OK,
                axum::Json(json!({"success": true, "errors": [],
                "result": {"successful_key_count": pairs.len(), "unsuccessful_keys": []}})),
            )
        }
        async fn delete(
            State(kv): State<Kv>,
            axum::Json(keys): axum::Json<Vec<String>>,
        ) -> (AxumStatus, axum::Json<Value>) {
            let mut entries = kv.entries.lock().unwrap();
            for key in &keys {
                entries.remove(key);
            }
            (
                AxumStatus::OK,
                axum::Json(json!({"success": true, "errors": [],
                "result": {"successful_key_count": keys.len(), "unsuccessful_keys": []}})),
            )
        }
        let app = Router::new()
            .route(
                "/client/v4/accounts/{account}/storage/kv/namespaces/{namespace}/bulk",
                put(bulk),
            )
            .route(
                "/client/v4/accounts/{account}/storage/kv/namespaces/{namespace}/bulk/delete",
                post(delete),
            )
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    }

    fn get(&self, key: &str) -> Option<String> {
        self.entries.lock().unwrap().get(key).cloned()
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[tokio::test]
async fn an_api_key_is_shown_once_published_by_its_hash_and_deleted_on_revoke() {
    let desk = Desk::spawn("2026-12-01T10:00:00Z").await;
    stored_customer(&desk).await;
    let kv = Kv::default();
    let sink = Sink::Cloudflare(
        CloudflareSink::new(&kv.start().await, "acct", "ns", SecretString::from("t")).unwrap(),
    );

    let made = desk
        .admin(
            "POST",
            "/v1/admin/api-keys",
            Some(json!({"customer": CUSTOMER, "name": "backend"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let key = made.body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("tgk_"));
    let stored: Vec<String> = sqlx::query_scalar("SELECT key_sha256 FROM api_keys")
        .fetch_all(&desk.pool)
        .await
        .unwrap();
    assert_eq!(stored, [sha256_hex(&key)], "only the SHA-256 is kept");

    let listed = desk
        .view(&format!("/v1/admin/api-keys?customer={CUSTOMER}"))
        .await;
    assert_eq!(listed.body["items"][0]["name"], "backend");
    assert!(!listed.text.contains(&key), "a list never shows the key");

    publish::run_once(&desk.pool, &sink).await.unwrap();
    let kv_key = format!("key:v1:{}", sha256_hex(&key));
    assert_eq!(
        kv.get(&kv_key).as_deref(),
        Some(CUSTOMER),
        "published under its hash"
    );
    assert!(
        kv.get(&format!("ent:v1:{CUSTOMER}")).is_some(),
        "with the snapshots"
    );

    let id = made.body["id"].as_i64().unwrap();
    let revoked = desk
        .admin("DELETE", &format!("/v1/admin/api-keys/{id}"), None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{revoked:?}");
    assert!(revoked.body["revoked_at"].is_string());
    publish::run_once(&desk.pool, &sink).await.unwrap();
    assert_eq!(kv.get(&kv_key), None, "removed from KV");
    let again = desk
        .admin("DELETE", &format!("/v1/admin/api-keys/{id}"), None)
        .await;
    assert_eq!(again.body["code"], "unknown_api_key");

    // The command line does the same, audited as `cli`.
    let run = |args: Vec<String>| {
        let url = desk.database.url.clone();
        async move {
            let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
                .args(&args)
                .env("DATABASE_URL", url)
                .env("RUST_LOG", "warn")
                .output()
                .await
                .unwrap();
            assert!(
                output.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        }
    };
    let cli_key = run(vec![
        "keys".into(),
        "create".into(),
        CUSTOMER.into(),
        "--name".into(),
        "cron".into(),
    ])
    .await;
    let cli_key = cli_key.trim().to_owned();
    assert!(cli_key.starts_with("tgk_"));
    publish::run_once(&desk.pool, &sink).await.unwrap();
    let cli_kv = format!("key:v1:{}", sha256_hex(&cli_key));
    assert_eq!(kv.get(&cli_kv).as_deref(), Some(CUSTOMER));
    let list = run(vec!["keys".into(), "list".into()]).await;
    assert!(
        list.contains("cron") && list.contains("backend") && !list.contains(&cli_key),
        "{list}"
    );
    let cli_id: i64 = sqlx::query_scalar("SELECT id FROM api_keys WHERE name = 'cron'")
        .fetch_one(&desk.pool)
        .await
        .unwrap();
    run(vec!["keys".into(), "revoke".into(), cli_id.to_string()]).await;
    publish::run_once(&desk.pool, &sink).await.unwrap();
    assert_eq!(kv.get(&cli_kv), None);
    assert_eq!(
        desk.audited("api_keys.revoke").await,
        vec![
            (
                "bootstrap".to_owned(),
                Some("admin".to_owned()),
                Some(CUSTOMER.to_owned())
            ),
            (
                "cli".to_owned(),
                Some("admin".to_owned()),
                Some(CUSTOMER.to_owned())
            ),
        ]
    );
    desk.app.finish().await;
}

#[tokio::test]
async fn failed_authentications_are_limited_per_address_and_recover() {
    let app = TestApp::spawn_configured(at("2026-12-01T10:00:00Z"), |config| {
        config.auth_failure_burst = 3;
    })
    .await;
    let desk = Desk::open(app).await;
    for _ in 0..3 {
        let answer = desk
            .call("GET", "/v1/admin/audit", Some("tg_guess"), None)
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let limited = desk
        .call("GET", "/v1/admin/audit", Some("tg_guess"), None)
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{limited:?}");
    assert_eq!(limited.body["code"], "rate_limited");
    assert_eq!(limited.headers["retry-after"], "1");
    let missing = desk.call("POST", "/v1/check", None, Some(json!({}))).await;
    assert_eq!(
        missing.status,
        StatusCode::TOO_MANY_REQUESTS,
        "no token counts as a failure too"
    );
    // A valid token is not held back by its address's failures.
    assert_eq!(desk.view("/v1/admin/audit").await.status, StatusCode::OK);
    // A second later, one more attempt.
    desk.clock
        .set(desk.clock.now() + chrono::Duration::seconds(1));
    let answer = desk
        .call("GET", "/v1/admin/audit", Some("tg_guess"), None)
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let answer = desk
        .call("GET", "/v1/admin/audit", Some("tg_guess"), None)
        .await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    desk.app.finish().await;
}
