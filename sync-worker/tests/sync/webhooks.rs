//! Webhooks: a subscription's whole story, duplicates, reverse order, refusals, retries and the
//! CLI, over HTTP against a real service.

use crate::support;
use crate::support::{API_TOKEN, CUSTOMER, SECRET, STORY, TestApp, at, fixture};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tollgate_gate::Snapshot;

fn plan(snapshot: &Value) -> &str {
    snapshot["plan"]["key"].as_str().unwrap()
}

fn revision(snapshot: &Value) -> u64 {
    snapshot["revision"].as_u64().unwrap()
}

#[tokio::test]
async fn a_subscriptions_whole_story_gives_the_expected_plan_after_each_step() {
    let app = TestApp::spawn("2026-09-14T09:13:59Z").await;

    assert_eq!(app.snapshot(CUSTOMER).await, None);
    assert_eq!(
        app.deliver_at_its_time(&fixture("customer.created")).await,
        "applied"
    );
    let s = app.snapshot(CUSTOMER).await.unwrap();
    assert_eq!((plan(&s), revision(&s)), ("free", 1));
    let refused = app.check(CUSTOMER, "advanced_analytics", 1).await;
    assert_eq!(refused["allowed"], false);
    assert_eq!(refused["reason"], "not_in_plan");
    assert_eq!(refused["upgrade"]["plan"], "premium");

    assert_eq!(
        app.deliver_at_its_time(&fixture("subscription.created"))
            .await,
        "applied"
    );
    let s = app.snapshot(CUSTOMER).await.unwrap();
    assert_eq!((plan(&s), revision(&s)), ("premium", 2));
    assert_eq!(s["customer"], CUSTOMER);
    assert_eq!(s["subscriptions"][0]["status"], "active");
    assert_eq!(s["subscriptions"][0]["cancel_at_period_end"], false);
    let allowed = app.check(CUSTOMER, "advanced_analytics", 1).await;
    assert_eq!(
        (allowed["allowed"].clone(), allowed["plan"].clone()),
        (json!(true), json!("premium"))
    );
    assert_eq!(app.check(CUSTOMER, "projects", 10).await["allowed"], true);
    assert_eq!(
        app.check(CUSTOMER, "projects", 11).await["reason"],
        "limit_reached"
    );

    // `subscription.active` carries the same version as `.created`: nothing new.
    assert_eq!(
        app.deliver_at_its_time(&fixture("subscription.active"))
            .await,
        "stale"
    );
    // Billing history and the rest of the checkout's events do not change entitlements.
    for event in [
        "order.paid",
        "checkout.updated",
        "benefit_grant.created",
        "customer.state_changed",
        "order.refunded",
        "product.updated",
    ] {
        let status = app.deliver_at_its_time(&fixture(event)).await;
        assert!(
            status == "applied" || status == "stale",
            "{event}: {status}"
        );
        let s = app.snapshot(CUSTOMER).await.unwrap();
        assert_eq!((plan(&s), revision(&s)), ("premium", 2), "after {event}");
    }
    let (order_status, refunded): (String, i64) =
        sqlx::query_as("SELECT status, refunded_amount FROM orders")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((order_status.as_str(), refunded), ("refunded", 1900));

    // Cancellation at the period end: still premium until 10-14, and the snapshot says so.
    assert_eq!(
        app.deliver_at_its_time(&fixture("subscription.updated"))
            .await,
        "applied"
    );
    assert_eq!(
        app.deliver_at_its_time(&fixture("subscription.canceled"))
            .await,
        "stale"
    );
    let s = app.snapshot(CUSTOMER).await.unwrap();
    assert_eq!((plan(&s), revision(&s)), ("premium", 3));
    assert_eq!(s["subscriptions"][0]["cancel_at_period_end"], true);
    assert_eq!(
        app.check(CUSTOMER, "advanced_analytics", 1).await["allowed"],
        true
    );
    // Had it stayed canceled, the snapshot alone ends the plan at the period end.
    app.clock.set(at("2026-10-14T09:14:22Z"));
    let ended = app.check(CUSTOMER, "advanced_analytics", 1).await;
    assert_eq!(ended["allowed"], false);
    assert_eq!(ended["reason"], "subscription_ended");
    assert_eq!(ended["plan"], "free");

    assert_eq!(
        app.deliver_at_its_time(&fixture("subscription.uncanceled"))
            .await,
        "applied"
    );
    let s = app.snapshot(CUSTOMER).await.unwrap();
    assert_eq!((plan(&s), revision(&s)), ("premium", 4));
    assert_eq!(s["subscriptions"][0]["cancel_at_period_end"], false);

    assert_eq!(
        app.deliver_at_its_time(&fixture("subscription.revoked"))
            .await,
        "applied"
    );
    let s = app.snapshot(CUSTOMER).await.unwrap();
    assert_eq!((plan(&s), revision(&s)), ("free", 5));
    assert_eq!(s["subscriptions"][0]["status"], "canceled");
    let after = app.check(CUSTOMER, "advanced_analytics", 1).await;
    assert_eq!(after["allowed"], false);
    assert_eq!(after["reason"], "subscription_ended");
    assert_eq!(after["upgrade"]["plan"], "premium");

    // Every new revision was queued for publication, in order.
    let outbox: Vec<(i64,)> = sqlx::query_as("SELECT revision FROM publish_outbox ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(outbox, vec![(1,), (2,), (3,), (4,), (5,)]);
    app.finish().await;
}

#[tokio::test]
async fn the_same_webhook_twice_or_concurrently_has_one_effect() {
    let app = TestApp::spawn("2026-09-14T09:14:23Z").await;
    let created = app.sign(serde_json::to_vec(&fixture("subscription.created")).unwrap());
    let first: Value = app.post(&created, SECRET).await.json().await.unwrap();
    let again: Value = app.post(&created, SECRET).await.json().await.unwrap();
    assert_eq!(first["status"], "accepted");
    assert_eq!(again["status"], "duplicate");
    app.applier.settled().await;

    app.clock.set(at("2026-09-28T18:02:46Z"));
    let updated = app.sign(serde_json::to_vec(&fixture("subscription.updated")).unwrap());
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (poster, updated) = (app.poster(), updated.clone());
        requests.spawn(async move {
            let response = poster.post(&updated, SECRET).await;
            assert!(response.status().is_success());
            let receipt: Value = response.json().await.unwrap();
            receipt["status"].as_str().unwrap().to_owned()
        });
    }
    let mut statuses = requests.join_all().await;
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| *s == "accepted").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| *s == "duplicate").count(),
        11,
        "{statuses:?}"
    );
    app.applier.settled().await;

    let counts = app.row_counts().await;
    let count = |table: &str| counts.iter().find(|(t, _)| t == table).unwrap().1;
    assert_eq!(count("webhook_events"), 2);
    assert_eq!(count("subscriptions"), 1);
    assert_eq!(count("entitlement_snapshots"), 2);
    assert_eq!(count("publish_outbox"), 2);
    let s = app.snapshot(CUSTOMER).await.unwrap();
    assert_eq!((plan(&s), revision(&s)), ("premium", 2));
    assert_eq!(s["subscriptions"][0]["cancel_at_period_end"], true);
    app.finish().await;
}

#[tokio::test]
async fn the_story_in_reverse_order_ends_in_the_same_state() {
    let in_order = TestApp::spawn("2026-09-14T09:13:59Z").await;
    let reversed = TestApp::spawn("2026-09-14T09:13:59Z").await;
    for event in STORY {
        in_order.deliver_at_its_time(&fixture(event)).await;
    }
    for event in STORY.iter().rev() {
        reversed.deliver_at_its_time(&fixture(event)).await;
    }
    let end = at("2026-10-20T00:00:00Z");
    in_order.clock.set(end);
    reversed.clock.set(end);

    // A snapshot describes the customer at the time it was issued; issue both at the same time.
    let catalog = tollgate_sync::app::load_catalog(&support::catalog_path()).unwrap();
    for app in [&in_order, &reversed] {
        let mut tx = app.pool.begin().await.unwrap();
        tollgate_sync::snapshot::rebuild(&mut tx, &catalog, CUSTOMER, end)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let a: Snapshot = serde_json::from_value(in_order.snapshot(CUSTOMER).await.unwrap()).unwrap();
    let b: Snapshot = serde_json::from_value(reversed.snapshot(CUSTOMER).await.unwrap()).unwrap();
    assert!(a.same_entitlements(&b), "{a:#?}\n{b:#?}");
    assert_eq!(a.plan.key, "free");

    for table in [
        "customers",
        "products",
        "subscriptions",
        "orders",
        "benefit_grants",
        "checkouts",
    ] {
        let query = format!("SELECT id, raw FROM {table} ORDER BY id");
        let rows_a: Vec<(String, Value)> = sqlx::query_as(sqlx::AssertSqlSafe(query.clone()))
            .fetch_all(&in_order.pool)
            .await
            .unwrap();
        let rows_b: Vec<(String, Value)> = sqlx::query_as(sqlx::AssertSqlSafe(query.clone()))
            .fetch_all(&reversed.pool)
            .await
            .unwrap();
        assert!(!rows_a.is_empty(), "{table}");
        assert_eq!(rows_a, rows_b, "{table}");
    }
    for feature in ["advanced_analytics", "projects", "api_calls"] {
        let mut a = in_order.check(CUSTOMER, feature, 1).await;
        let mut b = reversed.check(CUSTOMER, feature, 1).await;
        // `asOf` is when each snapshot was issued, not what it says.
        a["asOf"] = Value::Null;
        b["asOf"] = Value::Null;
        assert_eq!(a, b, "{feature}");
    }
    in_order.finish().await;
    reversed.finish().await;
}

#[tokio::test]
async fn bad_deliveries_are_refused_and_change_nothing() {
    let app = TestApp::spawn("2026-09-14T09:14:23Z").await;
    let before = app.row_counts().await;
    let body = serde_json::to_vec(&fixture("subscription.created")).unwrap();
    let url = format!("{}/webhooks/polar", app.address);

    async fn refused(response: reqwest::Response, status: StatusCode, code: &str) {
        assert_eq!(response.status(), status, "expected {code}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], code, "{error}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }

    // Tampered body: signed, then one byte changed.
    let mut delivery = app.sign(body.clone());
    let signature = tollgate_sync::signature::sign_legacy(
        SECRET,
        &delivery.webhook_id,
        delivery.timestamp,
        &delivery.body,
    );
    delivery.body = String::from_utf8(body.clone())
        .unwrap()
        .replace("1900", "0001")
        .into_bytes();
    let response = app
        .client
        .post(&url)
        .header("webhook-id", &delivery.webhook_id)
        .header("webhook-timestamp", delivery.timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.body.clone())
        .send()
        .await
        .unwrap();
    refused(response, StatusCode::UNAUTHORIZED, "invalid_signature").await;

    // Signed with another secret.
    let delivery = app.sign(body.clone());
    let other = "whsec_Wga8EOAZsG5uGoV1iNma2yHV2J4ynrZ2UhGTI5/QxxM=";
    refused(
        app.post(&delivery, other).await,
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
    )
    .await;

    // Signed six minutes ago (a replay), and six minutes ahead.
    for skew in [-360, 360] {
        let mut delivery = app.sign(body.clone());
        delivery.timestamp += skew;
        refused(
            app.post(&delivery, SECRET).await,
            StatusCode::UNAUTHORIZED,
            "stale_timestamp",
        )
        .await;
    }

    // Each header missing.
    let delivery = app.sign(body.clone());
    let signature = tollgate_sync::signature::sign_legacy(
        SECRET,
        &delivery.webhook_id,
        delivery.timestamp,
        &delivery.body,
    );
    let headers = [
        ("webhook-id", delivery.webhook_id.clone()),
        ("webhook-timestamp", delivery.timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    for missing in 0..headers.len() {
        let mut request = app.client.post(&url).body(delivery.body.clone());
        for (i, (name, value)) in headers.iter().enumerate() {
            if i != missing {
                request = request.header(*name, value);
            }
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "missing_header");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains(headers[missing].0),
            "{error}"
        );
    }

    // 2 MiB, correctly signed.
    let mut big = b"{\"type\":\"order.paid\",\"pad\":\"".to_vec();
    big.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    big.extend(b"\"}");
    let delivery = app.sign(big);
    refused(
        app.post(&delivery, SECRET).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    // Malformed JSON, correctly signed.
    let delivery = app.sign(b"{\"type\":\"subscription.created\",".to_vec());
    refused(
        app.post(&delivery, SECRET).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;

    // Valid JSON that is not a webhook, and a subscription event without a subscription.
    for bad in [
        json!([1, 2]),
        json!({"type": "subscription.updated", "data": {"id": "x"}}),
    ] {
        let delivery = app.sign(serde_json::to_vec(&bad).unwrap());
        refused(
            app.post(&delivery, SECRET).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
        )
        .await;
    }

    assert_eq!(app.row_counts().await, before);
    // The same delivery, untouched, is still accepted afterwards.
    assert_eq!(
        app.post(&app.sign(body), SECRET).await.status(),
        StatusCode::ACCEPTED
    );
    app.finish().await;
}

#[tokio::test]
async fn unknown_event_types_are_stored_and_acknowledged() {
    let app = TestApp::spawn("2026-09-14T09:14:23Z").await;
    let event = json!({
        "type": "member.created",
        "timestamp": "2026-09-14T09:14:22.000000Z",
        "data": { "id": "m_1", "created_at": "2026-09-14T09:14:22.000000Z" }
    });
    assert_eq!(app.deliver(&event).await, "ignored");
    let (event_type, status): (String, String) =
        sqlx::query_as("SELECT event_type, status FROM webhook_events")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (event_type.as_str(), status.as_str()),
        ("member.created", "ignored")
    );
    assert_eq!(app.snapshot(CUSTOMER).await, None);
    app.finish().await;
}

#[tokio::test]
async fn a_product_change_moves_its_subscribers_to_the_plan_it_now_selects() {
    let app = TestApp::spawn("2026-09-14T09:14:23Z").await;
    app.deliver(&fixture("subscription.created")).await;
    assert_eq!(plan(&app.snapshot(CUSTOMER).await.unwrap()), "premium");

    let mut product = fixture("product.updated");
    product["data"]["modified_at"] = json!("2026-09-21T08:00:00.000000Z");
    product["data"]["metadata"]["plan"] = json!("premium_plus");
    app.clock.set(at("2026-09-21T08:00:01Z"));
    assert_eq!(app.deliver(&product).await, "applied");
    let s = app.snapshot(CUSTOMER).await.unwrap();
    assert_eq!((plan(&s), revision(&s)), ("premium_plus", 2));
    assert_eq!(
        app.check(CUSTOMER, "priority_support", 1).await["allowed"],
        true
    );

    // A later delivery of the subscription carries the older product; it changes nothing.
    let mut later = fixture("subscription.updated");
    later["data"]["cancel_at_period_end"] = json!(false);
    assert_eq!(app.deliver(&later).await, "applied");
    assert_eq!(plan(&app.snapshot(CUSTOMER).await.unwrap()), "premium_plus");
    app.finish().await;
}

#[tokio::test]
async fn a_held_benefit_tagged_with_a_feature_raises_its_limit() {
    let app = TestApp::spawn("2026-09-14T09:14:25Z").await;
    app.deliver(&fixture("subscription.created")).await;
    let mut grant = fixture("benefit_grant.created");
    grant["data"]["benefit"]["metadata"] =
        json!({ "tollgate_feature": "projects", "tollgate_amount": 5 });
    assert_eq!(app.deliver(&grant).await, "applied");
    assert_eq!(app.check(CUSTOMER, "projects", 15).await["allowed"], true);
    assert_eq!(app.check(CUSTOMER, "projects", 16).await["allowed"], false);

    let mut revoked = grant.clone();
    revoked["type"] = json!("benefit_grant.revoked");
    revoked["data"]["modified_at"] = json!("2026-09-15T00:00:00.000000Z");
    revoked["data"]["is_revoked"] = json!(true);
    assert_eq!(app.deliver(&revoked).await, "applied");
    assert_eq!(app.check(CUSTOMER, "projects", 11).await["allowed"], false);
    app.finish().await;
}

#[tokio::test]
async fn a_failed_apply_is_kept_retried_and_replayable() {
    let app = TestApp::spawn("2026-09-14T09:14:23Z").await;
    // The database refuses snapshots for a while.
    app.refuse_snapshots(None).await;

    assert_eq!(
        app.deliver(&fixture("subscription.created")).await,
        "failed"
    );
    let (status, attempts, error): (String, i32, Option<String>) =
        sqlx::query_as("SELECT status, attempts, last_error FROM webhook_events")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    assert!(error.unwrap().contains("are refused"));
    // Nothing of the event was half-applied.
    let counts = app.row_counts().await;
    assert!(
        counts.iter().all(|(t, n)| t == "webhook_events" || *n == 0),
        "{counts:?}"
    );
    assert_eq!(app.snapshot(CUSTOMER).await, None);

    // The retry job waits for the backoff.
    let catalog = tollgate_sync::app::load_catalog(&support::catalog_path()).unwrap();
    let retried = tollgate_sync::webhooks::retry_due(&app.pool, &catalog, &app.clock)
        .await
        .unwrap();
    assert_eq!(retried, 0);

    // Once the database accepts snapshots again and the backoff has passed, it is applied.
    sqlx::query("DROP TRIGGER refuse ON entitlement_snapshots")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE webhook_events SET next_attempt_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    // The service's own retry pass (every second) may take it before this one does: either
    // way it is retried once and applied.
    let mut retried = 0;
    for _ in 0..100 {
        retried += tollgate_sync::webhooks::retry_due(&app.pool, &catalog, &app.clock)
            .await
            .unwrap();
        let (status, attempts): (String, i32) =
            sqlx::query_as("SELECT status, attempts FROM webhook_events")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if status != "failed" {
            assert_eq!((status.as_str(), attempts), ("applied", 2));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(retried <= 1);
    assert_eq!(plan(&app.snapshot(CUSTOMER).await.unwrap()), "premium");

    // A replay by hand re-applies safely and is audited.
    let (webhook_id,): (String,) = sqlx::query_as("SELECT webhook_id FROM webhook_events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let outcome =
        tollgate_sync::webhooks::replay(&app.pool, &catalog, &webhook_id, "test", app.clock.now())
            .await
            .unwrap();
    assert_eq!(outcome, Some(tollgate_sync::webhooks::Status::Stale));
    let (action, subject): (String, String) =
        sqlx::query_as("SELECT action, subject FROM audit_log")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((action.as_str(), subject), ("webhook.replay", webhook_id));
    assert_eq!(revision(&app.snapshot(CUSTOMER).await.unwrap()), 1);
    app.finish().await;
}

#[tokio::test]
async fn the_api_needs_its_token_and_knows_its_customers() {
    let app = TestApp::spawn("2026-09-14T09:14:23Z").await;
    let url = format!("{}/v1/entitlements/{CUSTOMER}", app.address);
    for token in [None, Some("wrong-token-0123456789")] {
        let mut request = app.client.get(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.json::<Value>().await.unwrap()["code"],
            "unauthorized"
        );
    }
    let response = app
        .client
        .get(&url)
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "unknown_customer"
    );

    // A user who never subscribed is on the default plan.
    let decision = app.check("user_never_seen", "api_calls", 1).await;
    assert_eq!(decision["allowed"], true);
    assert_eq!(decision["plan"], "free");
    assert_eq!(decision["limit"], 1000);
    for field in [
        "reason",
        "remaining",
        "resetsAt",
        "overage",
        "warning",
        "upgrade",
        "asOf",
        "stale",
    ] {
        assert!(
            decision.get(field).is_some(),
            "{field} missing in {decision}"
        );
    }

    let response = app
        .client
        .post(format!("{}/v1/check", app.address))
        .bearer_auth(API_TOKEN)
        .json(&json!({ "customer": CUSTOMER }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "invalid_request");
    assert!(
        error["message"].as_str().unwrap().contains("feature"),
        "{error}"
    );

    for probe in ["healthz", "readyz"] {
        let response = app
            .client
            .get(format!("{}/{probe}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{probe}");
    }
    app.finish().await;
}

#[tokio::test]
async fn the_cli_migrates_prints_snapshots_lists_and_replays() {
    let app = TestApp::spawn("2026-09-14T09:14:23Z").await;
    app.deliver(&fixture("subscription.created")).await;
    let tollgate = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(args)
            .env_clear()
            .env("DATABASE_URL", &app.database.url)
            .env("TOLLGATE_CATALOG", support::catalog_path())
            .output()
            .unwrap()
    };
    let migrated = tollgate(&["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");

    let printed = tollgate(&["snapshot", CUSTOMER]);
    assert!(printed.status.success(), "{printed:?}");
    let snapshot: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(plan(&snapshot), "premium");
    let unknown = tollgate(&["snapshot", "nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nobody"));

    let listed = tollgate(&["webhooks", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("subscription.created"));
    let failed = tollgate(&["webhooks", "list", "--failed"]);
    assert!(!String::from_utf8_lossy(&failed.stdout).contains("subscription.created"));

    let replayed = tollgate(&["webhooks", "replay", "--failed"]);
    assert!(replayed.status.success(), "{replayed:?}");
    assert!(String::from_utf8_lossy(&replayed.stdout).contains("no failed webhooks"));
    let missing = tollgate(&["webhooks", "replay", "no-such-id"]);
    assert!(!missing.status.success());

    for help in [
        &["--help"][..],
        &["serve", "--help"],
        &["webhooks", "replay", "--help"],
        &["snapshot", "--help"],
    ] {
        let out = tollgate(help);
        assert!(out.status.success(), "{help:?}");
    }
    // `serve` without its settings stops at once and names what is missing.
    let serve = tollgate(&["serve"]);
    assert!(!serve.status.success());
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert!(
        stderr.contains("POLAR_WEBHOOK_SECRET") && stderr.contains("TOLLGATE_API_TOKEN"),
        "{stderr}"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_deleted_customer_loses_the_plan_and_an_older_update_does_not_undelete() {
    let app = TestApp::spawn("2026-09-14T09:14:23Z").await;
    app.deliver(&fixture("subscription.created")).await;
    assert_eq!(plan(&app.snapshot(CUSTOMER).await.unwrap()), "premium");

    let mut deleted = fixture("customer.created");
    deleted["type"] = json!("customer.deleted");
    deleted["data"]["modified_at"] = json!("2026-09-20T00:00:00.000000Z");
    deleted["data"]["deleted_at"] = json!("2026-09-20T00:00:00.000000Z");
    app.clock.set(at("2026-09-20T00:00:01Z"));
    assert_eq!(app.deliver(&deleted).await, "applied");
    let s = app.snapshot(CUSTOMER).await.unwrap();
    assert_eq!((plan(&s), revision(&s)), ("free", 2));

    let mut older = fixture("customer.created");
    older["type"] = json!("customer.updated");
    older["data"]["modified_at"] = json!("2026-09-19T00:00:00.000000Z");
    assert_eq!(app.deliver(&older).await, "stale");
    let s = app.snapshot(CUSTOMER).await.unwrap();
    assert_eq!((plan(&s), revision(&s)), ("free", 2));
    app.finish().await;
}

#[tokio::test]
async fn a_delivery_the_database_refuses_fails_alone_and_is_taken_when_retried() {
    let app = TestApp::spawn("2026-09-14T11:00:00Z").await;
    sqlx::query(
        "CREATE FUNCTION refuse_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.webhook_id = 'refused' THEN RAISE EXCEPTION 'delivery refused'; END IF;
             RETURN NEW;
         END $$",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_delivery BEFORE INSERT ON webhook_events
         FOR EACH ROW EXECUTE FUNCTION refuse_delivery()",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let body = serde_json::to_vec(&fixture("subscription.created")).unwrap();
    let mut deliveries: Vec<_> = (0..8)
        .map(|n| {
            let mut delivery = app.sign(body.clone());
            delivery.webhook_id = format!("delivery-{n}");
            delivery
        })
        .collect();
    deliveries[3].webhook_id = "refused".to_owned();

    // Sent together, so that concurrent requests share inserts.
    let mut requests = tokio::task::JoinSet::new();
    for delivery in deliveries.clone() {
        let poster = app.poster();
        requests.spawn(async move {
            let status = poster.post(&delivery, SECRET).await.status();
            (delivery.webhook_id, status)
        });
    }
    let mut answers = requests.join_all().await;
    answers.sort();
    for (webhook_id, status) in &answers {
        let expected = if webhook_id == "refused" {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::ACCEPTED
        };
        assert_eq!(*status, expected, "{webhook_id}");
    }
    app.applier.settled().await;
    let (stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 7);

    // Polar retries what was not acknowledged; once the database takes it, it is stored.
    sqlx::query("DROP TRIGGER refuse_delivery ON webhook_events")
        .execute(&app.pool)
        .await
        .unwrap();
    let retried = app.post(&deliveries[3], SECRET).await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    app.applier.settled().await;
    assert_eq!(app.delivery_status("refused").await, "stale");
    app.finish().await;
}
