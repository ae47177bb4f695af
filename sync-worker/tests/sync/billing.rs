//! Selling through Polar, over HTTP, against the Polar simulator and a fresh database: a user
//! signs up through Clerk, buys Premium, upgrades with proration, cancels and changes their
//! mind, and is refunded once however often the refund is retried. Then every refusal: each
//! answers a stable code and changes nothing but the audit log.

use crate::support::{SECRET, TestApp, at};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use polar_sim::{
    ApiFault, Endpoint, Fault, FaultRule, RateLimit, SecretScheme, Sim, SimConfig, SimHandle,
};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tollgate_sync::auth::{self, Role};
use tollgate_sync::polar_client::{ClientConfig, PolarClient};
use tollgate_sync::reconcile::{Mode, Quiet, Reconciler, Resource};

const START: &str = "2026-12-01T10:00:00Z";

fn clerk_secret() -> String {
    format!("whsec_{}", STANDARD.encode([7u8; 32]))
}

/// Signs like Clerk (Svix): Standard Webhooks, the key being the base64 after `whsec_`.
/// Written from the specification, apart from the service's verifier.
fn clerk_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The service wired to a simulator that sends it webhooks, with the catalog's products known.
struct Shop {
    app: TestApp,
    sim: SimHandle,
    /// A token of role `app`.
    app_token: String,
}

/// One answer: status, headers, JSON body (`null` when empty).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl Shop {
    async fn open() -> Self {
        Self::open_with(|_, _| {}).await
    }

    /// `configure` may change the service's configuration before it starts.
    async fn open_with(configure: impl FnOnce(&SimHandle, &mut tollgate_sync::Config)) -> Self {
        let sim = Sim::start(SimConfig {
            seed_catalog: true,
            clock_start: Some(at(START)),
            rate_limit: RateLimit::off(),
            delivery: polar_sim::DeliveryConfig {
                retry_base: Duration::from_millis(50),
                simulated_timestamps: true,
                ..polar_sim::DeliveryConfig::default()
            },
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let app = TestApp::spawn_configured(sim.now(), |config| {
            config.polar.organization_token = Some(SecretString::from(sim.access_token()));
            config.polar.api_url = Some(sim.base_url().to_owned());
            config.clerk_webhook_secret = Some(SecretString::from(clerk_secret()));
            configure(&sim, config);
        })
        .await;
        sim.set_webhook_endpoint(Some(Endpoint {
            url: format!("{}/webhooks/polar", app.address),
            secret: SECRET.to_owned(),
            scheme: SecretScheme::Legacy,
        }))
        .unwrap();
        let mut conn = app.pool.acquire().await.unwrap();
        let (_, secret) = auth::create(&mut conn, "web", Role::App, "test", app.clock.now())
            .await
            .unwrap();
        drop(conn);
        let shop = Shop {
            app,
            sim,
            app_token: secret.expose_secret().to_owned(),
        };
        shop.sync_products().await;
        shop
    }

    /// Products come in with a reconcile, as they would after `tollgate sync products`.
    async fn sync_products(&self) {
        let polar = PolarClient::new(ClientConfig::new(
            self.sim.base_url(),
            SecretString::from(self.sim.access_token()),
        ))
        .unwrap();
        let reconciler = Reconciler {
            pool: self.app.pool.clone(),
            catalog: Arc::new(
                tollgate_sync::app::load_catalog(&crate::support::catalog_path()).unwrap(),
            ),
            polar,
        };
        reconciler
            .run(
                &[Resource::Products],
                Mode::Full,
                self.app.clock.now(),
                &Quiet,
            )
            .await
            .unwrap();
        self.app.applier.settled().await;
    }

    /// Waits until every webhook the simulator sent is stored and applied.
    async fn settle(&self) {
        self.sim.webhooks_settled().await;
        self.app.clock.set(self.sim.now());
        self.app.applier.settled().await;
    }

    /// Time passes in Polar (renewals, period ends) and for the service alike.
    async fn advance(&self, by: chrono::Duration) {
        // The service's clock moves first, so the webhooks' timestamps are within its tolerance.
        self.app.clock.set(self.sim.now() + by);
        self.sim.advance(by).unwrap();
        self.settle().await;
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .app
            .client
            .request(method, format!("{}{path}", self.app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A call with the `app` token.
    async fn app(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, Some(&self.app_token), body, None)
            .await
    }

    /// A call with the bootstrap (admin) token and an idempotency key.
    async fn admin(&self, method: &str, path: &str, body: Value, key: Option<&str>) -> Answer {
        self.call(
            method,
            path,
            Some(crate::support::API_TOKEN),
            Some(body),
            key,
        )
        .await
    }

    async fn clerk(&self, svix_id: &str, event: &Value) -> Answer {
        let body = serde_json::to_vec(event).unwrap();
        let timestamp = self.app.clock.now().timestamp();
        let response = self
            .app
            .client
            .post(format!("{}/webhooks/clerk", self.app.address))
            .header("content-type", "application/json")
            .header("svix-id", svix_id)
            .header("svix-timestamp", timestamp.to_string())
            .header(
                "svix-signature",
                clerk_signature(&clerk_secret(), svix_id, timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.json().await.unwrap_or(Value::Null),
        }
    }

    /// An object of Polar's API, as the simulator serves it.
    async fn polar(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .app
            .client
            .get(format!("{}{path}", self.sim.base_url()))
            .bearer_auth(self.sim.access_token())
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Rows of every table but the audit log, and the simulator's objects: what a refused call
    /// must leave as it was.
    async fn state(&self) -> Vec<(String, i64)> {
        let mut counts: Vec<(String, i64)> = self
            .app
            .row_counts()
            .await
            .into_iter()
            .filter(|(table, _)| table != "audit_log")
            .collect();
        for table in [
            "idempotency_keys",
            "api_tokens",
            "clerk_events",
            "usage_events",
        ] {
            let (n,): (i64,) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                    .fetch_one(&self.app.pool)
                    .await
                    .unwrap();
            counts.push((table.to_owned(), n));
        }
        for list in [
            "/v1/customers/",
            "/v1/checkouts/",
            "/v1/subscriptions/",
            "/v1/orders/",
            "/v1/refunds/",
        ] {
            let (_, page) = self.polar(list).await;
            let total = page["pagination"]["total_count"]
                .as_i64()
                .or_else(|| page["items"].as_array().map(|i| i.len() as i64))
                .unwrap_or(-1);
            counts.push((format!("polar {list}"), total));
            if list == "/v1/subscriptions/" {
                // A changed subscription keeps its count: compare the objects themselves.
                let items = page["items"].as_array().cloned().unwrap_or_default();
                let facts = items
                    .iter()
                    .map(|s| {
                        format!(
                            "{} {} {}",
                            s["product_id"], s["cancel_at_period_end"], s["status"]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(";");
                counts.push((facts, 0));
            }
        }
        counts
    }

    /// The audit rows of `action`, oldest first.
    async fn audits(&self, action: &str) -> Vec<(String, Option<String>, Value)> {
        sqlx::query_as("SELECT actor, role, details FROM audit_log WHERE action = $1 ORDER BY id")
            .bind(action)
            .fetch_all(&self.app.pool)
            .await
            .unwrap()
    }

    /// Signs up `user` through Clerk and waits for Polar's `customer.created`.
    async fn sign_up(&self, user: &str) {
        let answer = self
            .clerk(
                &format!("msg_{user}"),
                &user_created(user, &format!("{user}@example.com")),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        self.settle().await;
    }

    /// Checks out `plan` for `customer` and pays in the simulator.
    async fn subscribe(&self, customer: &str, plan: &str) -> Value {
        let checkout = self
            .app(
                "POST",
                "/v1/checkouts",
                Some(json!({
                    "customer": customer,
                    "plan": plan,
                    "success_url": "https://app.example.com/welcome?checkout={CHECKOUT_ID}",
                })),
            )
            .await;
        assert_eq!(checkout.status, StatusCode::CREATED, "{checkout:?}");
        let id = checkout.body["id"].as_str().unwrap().parse().unwrap();
        self.sim
            .run(polar_sim::Action::CompleteCheckout {
                checkout: id,
                product: None,
            })
            .unwrap();
        self.settle().await;
        checkout.body
    }

    async fn plan(&self, customer: &str) -> String {
        let decision = self.app.check(customer, "projects", 1).await;
        decision["plan"].as_str().unwrap().to_owned()
    }

    async fn finish(self) {
        self.sim.shutdown().await;
        self.app.finish().await;
    }
}

fn user_created(user: &str, email: &str) -> Value {
    json!({
        "type": "user.created",
        "object": "event",
        "data": {
            "id": user,
            "object": "user",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "primary_email_address_id": "idn_primary",
            "email_addresses": [
                {"id": "idn_other", "email_address": "old@example.com"},
                {"id": "idn_primary", "email_address": email}
            ]
        }
    })
}

#[tokio::test]
async fn a_customer_signs_up_buys_upgrades_cancels_returns_and_is_refunded_once() {
    let shop = Shop::open().await;
    let user = "user_2ada";

    // Sign-up through Clerk makes the Polar customer; a redelivery does nothing.
    let created = user_created(user, "ada@example.com");
    let first = shop.clerk("msg_1", &created).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(first.body["status"], "processed");
    let again = shop.clerk("msg_1", &created).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["status"], "duplicate");
    let (status, customer) = shop.polar(&format!("/v1/customers/external/{user}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(customer["email"], "ada@example.com");
    assert_eq!(customer["name"], "Ada Lovelace");
    assert_eq!(shop.sim.request_counts()["POST /v1/customers"], 1);
    shop.settle().await;
    // Asking for the same customer again finds it (200, not 201).
    let existing = shop
        .app(
            "POST",
            "/v1/customers",
            Some(json!({"customer": user, "email": "ada@example.com"})),
        )
        .await;
    assert_eq!(existing.status, StatusCode::OK, "{existing:?}");
    assert_eq!(existing.body["polar_id"], customer["id"]);

    // Checkout → pay → Premium.
    assert_eq!(shop.plan(user).await, "free");
    let checkout = shop.subscribe(user, "premium").await;
    assert!(checkout["url"].as_str().unwrap().starts_with("http"));
    assert!(checkout["expires_at"].is_string());
    let decision = shop.app.check(user, "advanced_analytics", 1).await;
    assert_eq!(decision["allowed"], true, "{decision}");
    assert_eq!(decision["plan"], "premium");

    // The portal.
    let portal = shop
        .app(
            "POST",
            "/v1/portal-sessions",
            Some(json!({"customer": user, "return_url": "https://app.example.com/account"})),
        )
        .await;
    assert_eq!(portal.status, StatusCode::CREATED, "{portal:?}");
    assert!(portal.body["url"].as_str().unwrap().contains("portal"));
    assert!(portal.body["expires_at"].is_string());

    // Upgrade with proration charged now. The answer is Polar's; the plan moves only when
    // Polar's webhooks arrive (held back here until the answer has been checked).
    shop.sim.add_fault(FaultRule {
        fault: Fault::Reorder,
        event_type: None,
        count: 1000,
    });
    let upgrade = shop
        .app(
            "POST",
            &format!("/v1/customers/{user}/plan"),
            Some(json!({"plan": "premium_plus", "proration": "invoice"})),
        )
        .await;
    assert_eq!(upgrade.status, StatusCode::OK, "{upgrade:?}");
    assert_eq!(upgrade.body["from"], "premium");
    assert_eq!(upgrade.body["to"], "premium_plus");
    assert_eq!(
        upgrade.body["subscription"]["product"]["metadata"]["plan"],
        "premium_plus"
    );
    assert_eq!(shop.plan(user).await, "premium");
    shop.sim.clear_faults();
    shop.settle().await;
    assert_eq!(shop.plan(user).await, "premium_plus");
    let decision = shop.app.check(user, "priority_support", 1).await;
    assert_eq!(decision["allowed"], true, "{decision}");
    // The simulator charged the proration as an order of its own, which the history shows.
    let (_, polar_orders) = shop
        .polar(&format!("/v1/orders/?external_customer_id={user}"))
        .await;
    let proration = polar_orders["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["billing_reason"] == "subscription_update")
        .expect("a proration order")
        .clone();
    assert!(proration["total_amount"].as_i64().unwrap() > 0);
    let history = shop
        .app("GET", &format!("/v1/customers/{user}/orders"), None)
        .await;
    assert_eq!(history.status, StatusCode::OK, "{history:?}");
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{history:?}");
    assert_eq!(items[0]["id"], proration["id"]);
    assert_eq!(items[0]["billing_reason"], "subscription_update");
    assert_eq!(items[1]["billing_reason"], "subscription_create");
    assert_eq!(items[1]["amount"], 1900);
    assert_eq!(items[1]["product"]["name"], "Premium");
    assert_eq!(items[1]["refunded_amount"], 0);
    assert_eq!(history.body["next"], Value::Null);
    // Pages of one order each, linked by `next`.
    let page = shop
        .app("GET", &format!("/v1/customers/{user}/orders?limit=1"), None)
        .await;
    assert_eq!(page.body["items"][0]["id"], proration["id"]);
    let next = page.body["next"].as_str().unwrap();
    let page = shop
        .app(
            "GET",
            &format!("/v1/customers/{user}/orders?limit=1&cursor={next}"),
            None,
        )
        .await;
    assert_eq!(page.body["items"][0]["id"], items[1]["id"]);
    assert_eq!(page.body["next"], Value::Null);

    // Cancel at the period end: still Premium Plus until then.
    let cancel = shop
        .app(
            "POST",
            &format!("/v1/customers/{user}/cancel"),
            Some(json!({"at_period_end": true})),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::OK, "{cancel:?}");
    assert_eq!(cancel.body["subscription"]["cancel_at_period_end"], true);
    assert_eq!(
        cancel.body["ends_at"],
        cancel.body["subscription"]["current_period_end"]
    );
    shop.settle().await;
    let snapshot = shop.app.snapshot(user).await.unwrap();
    assert_eq!(snapshot["plan"]["key"], "premium_plus");
    assert_eq!(snapshot["subscriptions"][0]["cancel_at_period_end"], true);

    // Uncancel.
    let uncancel = shop
        .app("POST", &format!("/v1/customers/{user}/uncancel"), None)
        .await;
    assert_eq!(uncancel.status, StatusCode::OK, "{uncancel:?}");
    assert_eq!(uncancel.body["subscription"]["cancel_at_period_end"], false);
    shop.settle().await;
    let snapshot = shop.app.snapshot(user).await.unwrap();
    assert_eq!(snapshot["subscriptions"][0]["cancel_at_period_end"], false);

    // Refund the first order, retried three times with one key: refunded once.
    let first_order = items[1]["id"].as_str().unwrap().to_owned();
    let refund = json!({"order": first_order, "amount": 500, "reason": "customer_request",
                        "comment": "goodwill"});
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(
            shop.admin("POST", "/v1/refunds", refund.clone(), Some("refund-ada-1"))
                .await,
        );
    }
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        assert_eq!(answer.body, answers[0].body);
    }
    assert_eq!(answers[0].body["amount"], 500);
    assert_eq!(answers[0].body["order"], first_order.as_str());
    assert!(answers[1].headers.contains_key("idempotent-replayed"));
    assert_eq!(shop.sim.request_counts()["POST /v1/refunds"], 1);
    shop.settle().await;
    let history = shop
        .app("GET", &format!("/v1/customers/{user}/orders"), None)
        .await;
    assert_eq!(history.body["items"][1]["refunded_amount"], 500);

    // Every change is audited once, with who did it and why.
    let refunds = shop.audits("billing.refund").await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].0, "bootstrap");
    assert_eq!(refunds[0].1.as_deref(), Some("admin"));
    let (reason, request_id, before, after): (Option<String>, Option<String>, Value, Value) =
        sqlx::query_as(
            "SELECT reason, request_id, before, after FROM audit_log
             WHERE action = 'billing.plan_change'",
        )
        .fetch_one(&shop.app.pool)
        .await
        .unwrap();
    assert_eq!(reason, None);
    assert!(request_id.is_some());
    assert_eq!(before["plan"], "premium");
    assert_eq!(after["plan"], "premium_plus");
    let (actor, role, customer): (String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT actor, role, customer FROM audit_log WHERE action = 'billing.checkout'",
    )
    .fetch_one(&shop.app.pool)
    .await
    .unwrap();
    assert_eq!(
        (actor.as_str(), role.as_deref(), customer.as_deref()),
        ("token:web", Some("app"), Some(user))
    );
    for action in [
        "clerk.customer_create",
        "billing.portal_session",
        "billing.cancel",
        "billing.uncancel",
    ] {
        assert_eq!(shop.audits(action).await.len(), 1, "{action}");
    }
    shop.finish().await;
}

#[tokio::test]
async fn clerk_updates_and_deletions_reach_polar_and_bad_signatures_are_refused() {
    let shop = Shop::open().await;
    shop.sign_up("user_2bob").await;
    let updated = json!({
        "type": "user.updated",
        "data": {
            "id": "user_2bob", "first_name": "Bob", "last_name": null,
            "primary_email_address_id": "idn_1",
            "email_addresses": [{"id": "idn_1", "email_address": "bob@example.com"}]
        }
    });
    let answer = shop.clerk("msg_update", &updated).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let (_, customer) = shop.polar("/v1/customers/external/user_2bob").await;
    assert_eq!(customer["email"], "bob@example.com");
    assert_eq!(customer["name"], "Bob");
    shop.settle().await;

    // A wrong signature: 401 as for Polar's webhooks, and nothing changes.
    let before = shop.state().await;
    let body =
        serde_json::to_vec(&json!({"type": "user.deleted", "data": {"id": "user_2bob"}})).unwrap();
    let timestamp = shop.app.clock.now().timestamp();
    let forged = shop
        .app
        .client
        .post(format!("{}/webhooks/clerk", shop.app.address))
        .header("svix-id", "msg_forged")
        .header("svix-timestamp", timestamp.to_string())
        .header(
            "svix-signature",
            clerk_signature("whsec_b3RoZXIgc2VjcmV0", "msg_forged", timestamp, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let refusal: Value = forged.json().await.unwrap();
    assert_eq!(refusal["code"], "invalid_signature");
    assert_eq!(shop.state().await, before);

    let deleted = json!({"type": "user.deleted", "data": {"id": "user_2bob", "deleted": true}});
    let answer = shop.clerk("msg_delete", &deleted).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let (status, _) = shop.polar("/v1/customers/external/user_2bob").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    shop.finish().await;
}

#[tokio::test]
async fn the_clerk_endpoint_is_off_without_its_secret() {
    let app = TestApp::spawn(START).await;
    let response = app
        .client
        .post(format!("{}/webhooks/clerk", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}

#[tokio::test]
async fn roles_gate_every_route() {
    let shop = Shop::open().await;
    let mut conn = shop.app.pool.acquire().await.unwrap();
    let now = shop.app.clock.now();
    let (_, viewer) = auth::create(&mut conn, "dash", Role::Viewer, "test", now)
        .await
        .unwrap();
    drop(conn);
    let checkout = json!({"customer": "user_x", "plan": "premium",
                          "success_url": "https://app.example.com/ok"});

    // No token, or one tollgate never made: 401.
    let before = shop.state().await;
    for token in [None, Some("tg_not_a_token_of_ours_000000000")] {
        for (method, path) in [
            ("POST", "/v1/checkouts"),
            ("POST", "/v1/check"),
            ("GET", "/v1/customers/user_x/orders"),
            ("POST", "/v1/refunds"),
        ] {
            let answer = shop
                .call(method, path, token, Some(checkout.clone()), None)
                .await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(answer.body["code"], "unauthorized");
        }
    }
    // A role too low: 403 naming the role needed.
    let refund = json!({"order": "x", "reason": "other"});
    let answer = shop
        .call(
            "POST",
            "/v1/refunds",
            Some(&shop.app_token),
            Some(refund.clone()),
            Some("k1"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{answer:?}");
    assert_eq!(answer.body["code"], "forbidden");
    assert!(answer.body["message"].as_str().unwrap().contains("`admin`"));
    let answer = shop
        .call(
            "POST",
            "/v1/refunds",
            Some(viewer.expose_secret()),
            Some(refund),
            Some("k1"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let answer = shop
        .app(
            "POST",
            "/v1/customers/user_x/cancel",
            Some(json!({"at_period_end": false})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{answer:?}");
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap()
            .contains("`support`")
    );
    assert_eq!(shop.state().await, before);

    // A higher role includes the lower ones: the viewer may check.
    let check = shop
        .call(
            "POST",
            "/v1/check",
            Some(viewer.expose_secret()),
            Some(json!({"customer": "user_x", "feature": "projects"})),
            None,
        )
        .await;
    assert_eq!(check.status, StatusCode::OK, "{check:?}");

    // A revoked token opens nothing.
    let mut conn = shop.app.pool.acquire().await.unwrap();
    auth::revoke(&mut conn, "dash", "test", now).await.unwrap();
    drop(conn);
    let check = shop
        .call(
            "POST",
            "/v1/check",
            Some(viewer.expose_secret()),
            Some(json!({"customer": "user_x", "feature": "projects"})),
            None,
        )
        .await;
    assert_eq!(check.status, StatusCode::UNAUTHORIZED);
    shop.finish().await;
}

/// Asserts that `answer` is the refusal `status`/`code` and that nothing but the audit log
/// changed since `before`.
async fn refused(shop: &Shop, before: &[(String, i64)], answer: Answer, status: u16, code: &str) {
    assert_eq!(answer.status.as_u16(), status, "{answer:?}");
    assert_eq!(answer.body["code"], code, "{answer:?}");
    assert!(
        !answer.body["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{answer:?}"
    );
    assert_eq!(shop.state().await, before, "{code} changed something");
}

#[tokio::test]
async fn bad_billing_input_is_refused_and_changes_nothing() {
    let shop = Shop::open().await;
    shop.sign_up("user_held").await;
    shop.subscribe("user_held", "premium").await;
    shop.sign_up("user_free").await;
    let order = shop
        .app("GET", "/v1/customers/user_held/orders", None)
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let audits_before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&shop.app.pool)
        .await
        .unwrap();
    let before = shop.state().await;
    let checkout = |customer: &str, plan: &str| json!({"customer": customer, "plan": plan, "success_url": "https://app.example.com/ok"});

    let answer = shop
        .app("POST", "/v1/checkouts", Some(checkout("user_free", "gold")))
        .await;
    refused(&shop, &before, answer, 422, "unknown_plan").await;
    let answer = shop
        .app("POST", "/v1/checkouts", Some(checkout("user_free", "free")))
        .await;
    refused(&shop, &before, answer, 422, "plan_not_for_sale").await;
    let answer = shop
        .app(
            "POST",
            "/v1/checkouts",
            Some(checkout("user_held", "premium")),
        )
        .await;
    refused(&shop, &before, answer, 409, "already_subscribed").await;
    let answer = shop
        .app(
            "POST",
            "/v1/checkouts",
            Some(json!({"customer": "user_free", "plan": "premium"})),
        )
        .await;
    refused(&shop, &before, answer, 400, "invalid_request").await;

    for (method, path, body) in [
        (
            "POST",
            "/v1/customers/user_nobody/plan",
            Some(json!({"plan": "premium_plus"})),
        ),
        ("POST", "/v1/customers/user_nobody/cancel", None),
        ("POST", "/v1/customers/user_nobody/uncancel", None),
        ("GET", "/v1/customers/user_nobody/orders", None),
        (
            "POST",
            "/v1/portal-sessions",
            Some(json!({"customer": "user_nobody"})),
        ),
    ] {
        let answer = shop.app(method, path, body).await;
        refused(&shop, &before, answer, 404, "unknown_customer").await;
    }
    let answer = shop
        .app(
            "POST",
            "/v1/customers/user_free/plan",
            Some(json!({"plan": "premium_plus"})),
        )
        .await;
    refused(&shop, &before, answer, 409, "no_subscription").await;
    let answer = shop
        .app(
            "POST",
            "/v1/customers/user_held/plan",
            Some(json!({"plan": "premium_plus", "proration": "sometimes"})),
        )
        .await;
    refused(&shop, &before, answer, 400, "invalid_request").await;
    let answer = shop
        .app("GET", "/v1/customers/user_held/orders?cursor=garbage", None)
        .await;
    refused(&shop, &before, answer, 400, "invalid_request").await;

    // Refunds: the key is required, the amount capped, a key is bound to its body.
    let refund = |amount: i64| json!({"order": order, "amount": amount, "reason": "other"});
    let answer = shop.admin("POST", "/v1/refunds", refund(100), None).await;
    refused(&shop, &before, answer, 400, "idempotency_key_required").await;
    let answer = shop
        .admin("POST", "/v1/refunds", refund(1901), Some("too-much"))
        .await;
    refused(&shop, &before, answer, 422, "refund_exceeds_order").await;
    let answer = shop
        .admin(
            "POST",
            "/v1/refunds",
            json!({"order": "00000000-0000-0000-0000-000000000000", "reason": "other"}),
            Some("nothing"),
        )
        .await;
    refused(&shop, &before, answer, 404, "unknown_order").await;
    let first = shop
        .admin("POST", "/v1/refunds", refund(100), Some("one-key"))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    shop.settle().await;
    let after_first = shop.state().await;
    let answer = shop
        .admin("POST", "/v1/refunds", refund(200), Some("one-key"))
        .await;
    refused(&shop, &after_first, answer, 422, "idempotency_key_reused").await;
    let answer = shop
        .admin("POST", "/v1/refunds", refund(1801), Some("over-the-rest"))
        .await;
    refused(&shop, &after_first, answer, 422, "refund_exceeds_order").await;

    // Each refused call is audited with its code.
    let refusals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE details ? 'refused'")
            .fetch_one(&shop.app.pool)
            .await
            .unwrap();
    assert!(refusals >= 12, "{refusals}");
    let audits_after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&shop.app.pool)
        .await
        .unwrap();
    assert!(audits_after > audits_before);
    shop.finish().await;
}

#[tokio::test]
async fn polar_refusing_failing_or_throttling_changes_nothing() {
    let shop = Shop::open().await;
    shop.sign_up("user_held").await;
    shop.subscribe("user_held", "premium").await;
    shop.sign_up("user_free").await;
    let before = shop.state().await;
    let checkout = json!({"customer": "user_free", "plan": "premium",
                          "success_url": "https://app.example.com/ok"});

    // Polar refuses (422): its message is passed on.
    shop.sim.fail_requests(ApiFault {
        status: 422,
        count: 1,
        method: Some("POST".into()),
        path: Some("/v1/checkouts".into()),
        message: Some("Product is archived.".into()),
    });
    let answer = shop
        .call(
            "POST",
            "/v1/checkouts",
            Some(&shop.app_token),
            Some(checkout.clone()),
            Some("c-1"),
        )
        .await;
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap()
            .contains("Product is archived.")
    );
    refused(&shop, &before, answer, 422, "polar_rejected").await;

    // Polar fails (500) on every attempt: 503, and the key is free for the retry.
    shop.sim.fail_requests(ApiFault {
        status: 500,
        count: 3,
        method: Some("PATCH".into()),
        path: None,
        message: None,
    });
    let answer = shop
        .call(
            "POST",
            "/v1/customers/user_held/plan",
            Some(&shop.app_token),
            Some(json!({"plan": "premium_plus"})),
            Some("p-1"),
        )
        .await;
    assert!(answer.headers.contains_key("retry-after"), "{answer:?}");
    refused(&shop, &before, answer, 503, "polar_unavailable").await;
    // One failure, then Polar answers: the client's retry hides it.
    shop.sim.fail_requests(ApiFault {
        status: 500,
        count: 1,
        method: Some("POST".into()),
        path: Some("/v1/customer-sessions".into()),
        message: None,
    });
    let portal = shop
        .app(
            "POST",
            "/v1/portal-sessions",
            Some(json!({"customer": "user_held"})),
        )
        .await;
    assert_eq!(portal.status, StatusCode::CREATED, "{portal:?}");

    // Polar's rate limit: 503 with Polar's own Retry-After, without waiting it out.
    let before = shop.state().await;
    shop.sim.throttle(1, 17);
    let answer = shop
        .call(
            "POST",
            "/v1/checkouts",
            Some(&shop.app_token),
            Some(checkout.clone()),
            Some("c-2"),
        )
        .await;
    assert_eq!(
        answer.headers["retry-after"].to_str().unwrap(),
        "17",
        "{answer:?}"
    );
    refused(&shop, &before, answer, 503, "polar_unavailable").await;

    // The same keys work once Polar is back.
    let answer = shop
        .call(
            "POST",
            "/v1/customers/user_held/plan",
            Some(&shop.app_token),
            Some(json!({"plan": "premium_plus"})),
            Some("p-1"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    shop.finish().await;
}

#[tokio::test]
async fn an_unreachable_polar_opens_the_circuit_and_answers_503_with_retry_after() {
    // Nothing listens on the port of a listener that was closed.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let shop = Shop::open_with(|_, config| {
        config.polar.api_url = Some(format!("http://{closed}"));
    })
    .await;
    let before = shop.state().await;
    let body = json!({"customer": "user_1", "email": "one@example.com"});
    let mut last = None;
    // Three attempts per call; the fifth failure opens the circuit.
    for _ in 0..3 {
        let answer = shop.app("POST", "/v1/customers", Some(body.clone())).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
        assert_eq!(answer.body["code"], "polar_unavailable");
        last = Some(answer);
    }
    let last = last.unwrap();
    assert!(
        last.body["message"].as_str().unwrap().contains("suspended"),
        "{last:?}"
    );
    let wait: u64 = last.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(shop.state().await, before);
    shop.finish().await;
}

#[tokio::test]
async fn concurrent_requests_with_one_key_call_polar_once() {
    let shop = Shop::open().await;
    shop.sign_up("user_held").await;
    shop.subscribe("user_held", "premium").await;
    let order = shop
        .app("GET", "/v1/customers/user_held/orders", None)
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refund = json!({"order": order, "amount": 300, "reason": "duplicate"});
    let shop = Arc::new(shop);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let shop = Arc::clone(&shop);
            let refund = refund.clone();
            tokio::spawn(async move {
                shop.admin("POST", "/v1/refunds", refund, Some("same-key"))
                    .await
            })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        match answer.status {
            StatusCode::CREATED => created.push(answer.body),
            StatusCode::CONFLICT => assert_eq!(answer.body["code"], "idempotency_key_in_use"),
            other => panic!("{other}: {}", answer.body),
        }
    }
    assert!(!created.is_empty());
    assert!(created.iter().all(|body| *body == created[0]));
    assert_eq!(shop.sim.request_counts()["POST /v1/refunds"], 1);
    let shop = Arc::into_inner(shop).unwrap();
    shop.finish().await;
}

/// Runs `tollgate args…` against the shop's database and simulator; returns its output.
async fn tollgate(shop: &Shop, args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env("DATABASE_URL", &shop.app.database.url)
        .env("TOLLGATE_CATALOG", crate::support::catalog_path())
        .env("POLAR_ORGANIZATION_TOKEN", shop.sim.access_token())
        .env("POLAR_API_URL", shop.sim.base_url())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tollgate {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

#[tokio::test]
async fn the_command_line_makes_tokens_and_sells() {
    let shop = Shop::open().await;

    // Tokens: the secret is printed once and opens /v1 with its role, until revoked.
    let out = tollgate(
        &shop,
        &["tokens", "create", "--name", "ops", "--role", "support"],
    )
    .await;
    let secret = out
        .lines()
        .find(|line| line.starts_with("tg_"))
        .unwrap()
        .to_owned();
    let stored: String =
        sqlx::query_scalar("SELECT token_sha256 FROM api_tokens WHERE name = 'ops'")
            .fetch_one(&shop.app.pool)
            .await
            .unwrap();
    assert_eq!(stored, auth::digest(&secret));
    assert!(!stored.contains(&secret));
    let check = json!({"customer": "user_x", "feature": "projects"});
    let answer = shop
        .call(
            "POST",
            "/v1/check",
            Some(&secret),
            Some(check.clone()),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let list = tollgate(&shop, &["tokens", "list"]).await;
    assert!(list.contains("ops") && list.contains("support"), "{list}");
    assert!(!list.contains(&secret));
    tollgate(&shop, &["tokens", "revoke", "ops"]).await;
    let answer = shop
        .call("POST", "/v1/check", Some(&secret), Some(check), None)
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);

    // The billing commands, in a customer's order.
    let out = tollgate(
        &shop,
        &[
            "customers",
            "create",
            "user_cli",
            "--email",
            "cli@example.com",
        ],
    )
    .await;
    assert!(out.contains("created Polar customer"), "{out}");
    shop.settle().await;
    let out = tollgate(
        &shop,
        &[
            "checkout",
            "user_cli",
            "premium",
            "--success-url",
            "https://app.example.com/done",
        ],
    )
    .await;
    assert!(
        out.contains(&format!("{}/checkout/", shop.sim.base_url())),
        "{out}"
    );
    let checkout = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    shop.sim
        .run(polar_sim::Action::CompleteCheckout {
            checkout,
            product: None,
        })
        .unwrap();
    shop.settle().await;
    assert_eq!(shop.plan("user_cli").await, "premium");
    let out = tollgate(&shop, &["portal", "user_cli"]).await;
    assert!(out.contains("/portal"), "{out}");
    let out = tollgate(
        &shop,
        &["plan", "user_cli", "premium_plus", "--proration", "invoice"],
    )
    .await;
    assert!(out.contains("premium → premium_plus"), "{out}");
    shop.settle().await;
    assert_eq!(shop.plan("user_cli").await, "premium_plus");
    let out = tollgate(&shop, &["cancel", "user_cli"]).await;
    assert!(out.contains("cancelled at the period end"), "{out}");
    shop.settle().await;
    let out = tollgate(&shop, &["uncancel", "user_cli"]).await;
    assert!(out.contains("renews again"), "{out}");
    shop.settle().await;
    let out = tollgate(&shop, &["orders", "user_cli"]).await;
    assert!(
        out.contains("subscription_create") && out.contains("subscription_update"),
        "{out}"
    );
    let first_order = out
        .lines()
        .find(|line| line.contains("subscription_create"))
        .and_then(|line| line.split_whitespace().next())
        .unwrap()
        .to_owned();
    let out = tollgate(
        &shop,
        &[
            "refund",
            &first_order,
            "--reason",
            "customer_request",
            "--amount",
            "100",
        ],
    )
    .await;
    assert!(out.contains("of 100 on order"), "{out}");
    shop.settle().await;
    let history = shop.app("GET", "/v1/customers/user_cli/orders", None).await;
    let refunded = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == first_order.as_str())
        .unwrap()["refunded_amount"]
        .clone();
    assert_eq!(refunded, 100);

    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE actor = 'cli' ORDER BY id")
            .fetch_all(&shop.app.pool)
            .await
            .unwrap();
    assert_eq!(
        actions,
        [
            "tokens.create",
            "tokens.revoke",
            "billing.customer_create",
            "billing.checkout",
            "billing.portal_session",
            "billing.plan_change",
            "billing.cancel",
            "billing.uncancel",
            "billing.refund"
        ]
    );
    shop.finish().await;
}

#[tokio::test]
async fn a_downgrade_changes_the_product_and_the_default_plan_cancels_at_the_period_end() {
    let shop = Shop::open().await;
    shop.sign_up("user_down").await;
    shop.subscribe("user_down", "premium_plus").await;

    // Between paid plans: the product changes, prorated by default (billed with the renewal).
    let down = shop
        .app(
            "POST",
            "/v1/customers/user_down/plan",
            Some(json!({"plan": "premium"})),
        )
        .await;
    assert_eq!(down.status, StatusCode::OK, "{down:?}");
    assert_eq!(
        (down.body["from"].as_str(), down.body["to"].as_str()),
        (Some("premium_plus"), Some("premium"))
    );
    shop.settle().await;
    assert_eq!(shop.plan("user_down").await, "premium");
    let again = shop
        .app(
            "POST",
            "/v1/customers/user_down/plan",
            Some(json!({"plan": "premium"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "already_on_plan");

    // To the default plan: cancelled at the period end, Premium until then.
    let free = shop
        .app(
            "POST",
            "/v1/customers/user_down/plan",
            Some(json!({"plan": "free"})),
        )
        .await;
    assert_eq!(free.status, StatusCode::OK, "{free:?}");
    assert_eq!(free.body["to"], "free");
    assert_eq!(free.body["subscription"]["cancel_at_period_end"], true);
    assert_eq!(
        free.body["subscription"]["product"]["metadata"]["plan"],
        "premium"
    );
    shop.settle().await;
    assert_eq!(shop.plan("user_down").await, "premium");
    let ends = at(free.body["subscription"]["current_period_end"]
        .as_str()
        .unwrap());
    shop.advance(ends - shop.sim.now() + chrono::Duration::minutes(1))
        .await;
    assert_eq!(shop.plan("user_down").await, "free");
    shop.finish().await;
}

#[tokio::test]
async fn the_weekly_cleanup_forgets_idempotency_keys_after_24_hours() {
    use tollgate_sync::idempotency::{self, Claim};
    let app = TestApp::spawn(START).await;
    let now = app.clock.now();
    for (key, age) in [("old", 25), ("recent", 23)] {
        let claim = idempotency::claim(
            &app.pool,
            "bootstrap",
            key,
            "digest",
            now - chrono::Duration::hours(age),
        )
        .await
        .unwrap();
        assert_eq!(claim, Claim::Claimed);
    }
    let deps = tollgate_sync::jobs::Deps {
        pool: app.pool.clone(),
        catalog: Arc::new(
            tollgate_sync::app::load_catalog(&crate::support::catalog_path()).unwrap(),
        ),
        polar: None,
        clock: app.clock.clone(),
    };
    tollgate_sync::jobs::cleanup::run_once(&deps, now)
        .await
        .unwrap();
    let left: Vec<String> = sqlx::query_scalar("SELECT key FROM idempotency_keys")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, ["recent"]);
    app.finish().await;
}

#[tokio::test]
async fn each_token_has_its_rate_limit() {
    let shop = Shop::open_with(|_, config| {
        config.rate_limit = Some(1);
        config.rate_limit_burst = Some(2);
    })
    .await;
    let check = || Some(json!({"customer": "user_x", "feature": "projects"}));
    for _ in 0..2 {
        let answer = shop.app("POST", "/v1/check", check()).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    let limited = shop.app("POST", "/v1/check", check()).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{limited:?}");
    assert_eq!(limited.body["code"], "rate_limited");
    assert_eq!(limited.headers["retry-after"].to_str().unwrap(), "1");
    // Another token has its own budget.
    let other = shop
        .call(
            "POST",
            "/v1/check",
            Some(crate::support::API_TOKEN),
            check(),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::OK);
    // A second later, one more request.
    shop.app
        .clock
        .set(shop.app.clock.now() + chrono::Duration::seconds(1));
    assert_eq!(
        shop.app("POST", "/v1/check", check()).await.status,
        StatusCode::OK
    );
    assert_eq!(
        shop.app("POST", "/v1/check", check()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    shop.finish().await;
}

#[tokio::test]
async fn a_paid_plan_no_polar_product_sells_is_not_for_sale() {
    let catalog = std::env::temp_dir().join(format!(
        "tollgate-catalog-team-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    let mut text = std::fs::read_to_string(crate::support::catalog_path()).unwrap();
    text.push_str(
        "\n[plans.team]\nname = \"Team\"\nrank = 3\npolar_metadata = { plan = \"team\" }\n\
         limits = { projects = \"unlimited\" }\n",
    );
    std::fs::write(&catalog, text).unwrap();
    let path = catalog.clone();
    let shop = Shop::open_with(move |_, config| config.catalog.path = path).await;
    shop.sign_up("user_team").await;
    let before = shop.state().await;
    let answer = shop
        .app(
            "POST",
            "/v1/checkouts",
            Some(json!({"customer": "user_team", "plan": "team",
                        "success_url": "https://app.example.com/ok"})),
        )
        .await;
    assert!(
        answer.body["message"].as_str().unwrap().contains("team"),
        "{answer:?}"
    );
    refused(&shop, &before, answer, 422, "plan_not_for_sale").await;
    shop.finish().await;
    std::fs::remove_file(catalog).unwrap();
}

#[tokio::test]
async fn support_revokes_a_subscription_now() {
    let shop = Shop::open().await;
    shop.sign_up("user_gone").await;
    shop.subscribe("user_gone", "premium").await;
    let mut conn = shop.app.pool.acquire().await.unwrap();
    let (_, support) = auth::create(
        &mut conn,
        "desk",
        Role::Support,
        "test",
        shop.app.clock.now(),
    )
    .await
    .unwrap();
    drop(conn);
    let revoked = shop
        .call(
            "POST",
            "/v1/customers/user_gone/cancel",
            Some(support.expose_secret()),
            Some(json!({"at_period_end": false})),
            Some("revoke-1"),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{revoked:?}");
    assert_eq!(revoked.body["subscription"]["status"], "canceled");
    assert!(revoked.body["ends_at"].is_string());
    shop.settle().await;
    assert_eq!(shop.plan("user_gone").await, "free");
    let (actor, role): (String, Option<String>) =
        sqlx::query_as("SELECT actor, role FROM audit_log WHERE action = 'billing.revoke'")
            .fetch_one(&shop.app.pool)
            .await
            .unwrap();
    assert_eq!(
        (actor.as_str(), role.as_deref()),
        ("token:desk", Some("support"))
    );
    shop.finish().await;
}
