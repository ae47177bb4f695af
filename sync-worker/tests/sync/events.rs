//! Events to the app: detected from Polar's webhooks, usage and the subscription-ending job,
//! each delivered once to a local receiver that fails the first attempts. (The official
//! Standard Webhooks library verifies their signatures in `tests/clerk/events.test.mjs`.)

use crate::monitoring::{Received, Receiver};
use crate::support::{API_TOKEN, CUSTOMER, TestApp, at, catalog_path, fixture};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use tollgate_sync::app::load_catalog;
use tollgate_sync::jobs::{Deps, subscription_ending};

const EVENTS_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn spawn(receiver: &Receiver, now: &str) -> TestApp {
    let url = receiver.url.clone();
    TestApp::spawn_configured(at(now), |config| {
        config.monitoring.events_url = Some(url);
        config.monitoring.events_secret = Some(SecretString::from(EVENTS_SECRET));
    })
    .await
}

async fn use_api_calls(app: &TestApp, id: &str, amount: u64) {
    let event = json!({
        "id": id, "customer": CUSTOMER, "feature": "api_calls", "amount": amount,
        "timestamp": app.clock.now().to_rfc3339(),
    });
    let response = app
        .client
        .post(format!("{}/v1/usage", app.address))
        .bearer_auth(API_TOKEN)
        .json(&json!({ "events": [event] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let receipt: Value = response.json().await.unwrap();
    assert_eq!(receipt["accepted"], 1, "{receipt}");
}

/// `(type, data)` of a delivery, checking its Standard Webhooks headers on the way.
fn event(received: &Received) -> (String, Value) {
    let headers = &received.headers;
    let id = headers["webhook-id"].to_str().unwrap();
    assert!(id.starts_with("evt_") && id.len() == 36, "{id}");
    assert!(
        headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );
    assert!(
        headers["webhook-signature"]
            .to_str()
            .unwrap()
            .starts_with("v1,")
    );
    let body = received.json();
    assert!(body["timestamp"].is_string(), "{body}");
    (
        body["type"].as_str().unwrap().to_owned(),
        body["data"].clone(),
    )
}

async fn stored_events(app: &TestApp) -> (i64, i64) {
    sqlx::query_as("SELECT count(*), count(delivered_at) FROM app_events")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn each_event_reaches_the_app_once_through_its_failures() {
    // The app answers 500 three times before it takes anything.
    let receiver = Receiver::start(3).await;
    let app = spawn(&receiver, "2026-09-14T09:13:59Z").await;

    // A first snapshot on the default plan says nothing; the subscription's plan does.
    assert_eq!(
        app.deliver_at_its_time(&fixture("customer.created")).await,
        "applied"
    );
    assert_eq!(
        app.deliver_at_its_time(&fixture("subscription.created"))
            .await,
        "applied"
    );
    let updated = receiver.wait_for(1).await;
    assert_eq!(receiver.attempts(), 4);
    let (kind, data) = event(&updated[0]);
    assert_eq!(kind, "entitlements.updated");
    assert_eq!(data["customer"], CUSTOMER);
    assert_eq!(data["plan"]["key"], "premium");
    assert_eq!(data["previous_plan"]["key"], "free");
    assert_eq!(data["limits"]["api_calls"], 50_000);
    assert_eq!(data["previous_limits"]["api_calls"], 1_000);

    // Premium's api_calls: 50 000 a period, warn_at 0.8. 40 000 reach the warning, 50 000 the
    // limit, and more in the same period report nothing again.
    use_api_calls(&app, "batch-1", 39_999).await;
    use_api_calls(&app, "batch-2", 1).await;
    receiver.wait_for(2).await;
    use_api_calls(&app, "batch-3", 10_000).await;
    use_api_calls(&app, "batch-4", 7).await;
    let thresholds = receiver.wait_for(3).await;
    let reached: Vec<(String, Value, Value)> = thresholds[1..]
        .iter()
        .map(event)
        .map(|(kind, data)| (kind, data["threshold"].clone(), data["used"].clone()))
        .collect();
    assert_eq!(
        reached,
        [
            (
                "usage.threshold_reached".to_owned(),
                json!("warn_at"),
                json!(40_000)
            ),
            (
                "usage.threshold_reached".to_owned(),
                json!("limit"),
                json!(50_000)
            ),
        ]
    );
    assert_eq!(
        event(&thresholds[2]).1["period_start"],
        "2026-09-14T09:14:21.655Z"
    );

    // Cancelled at the period end (2026-10-14): nothing yet, 16 days before it.
    assert_eq!(
        app.deliver_at_its_time(&fixture("subscription.canceled"))
            .await,
        "applied"
    );
    // The hourly job, 2 days before the end, and again an hour later.
    let deps = Deps {
        pool: app.pool.clone(),
        catalog: Arc::new(load_catalog(&catalog_path()).unwrap()),
        polar: None,
        clock: app.clock.clone(),
    };
    subscription_ending::run_once(&deps, at("2026-10-12T09:00:00Z"))
        .await
        .unwrap();
    subscription_ending::run_once(&deps, at("2026-10-12T10:00:00Z"))
        .await
        .unwrap();
    let ending = receiver.wait_for(4).await;
    let (kind, data) = event(&ending[3]);
    assert_eq!(kind, "subscription.ending");
    assert_eq!(data["ends_at"], "2026-10-14T09:14:21.655Z");
    assert_eq!(data["plan"], "premium");

    // The renewal fails: past due (still on premium, within its grace).
    let mut past_due = fixture("subscription.canceled");
    past_due["type"] = json!("subscription.past_due");
    past_due["timestamp"] = json!("2026-10-14T09:20:00Z");
    let subscription = &mut past_due["data"];
    subscription["status"] = json!("past_due");
    subscription["cancel_at_period_end"] = json!(false);
    subscription["modified_at"] = json!("2026-10-14T09:20:00Z");
    subscription["current_period_start"] = json!("2026-10-14T09:14:21.655902Z");
    subscription["current_period_end"] = json!("2026-11-14T09:14:21.655902Z");
    assert_eq!(app.deliver_at_its_time(&past_due).await, "applied");
    let failed = receiver.wait_for(5).await;
    let (kind, data) = event(&failed[4]);
    assert_eq!(kind, "payment.failed");
    assert_eq!(data["status"], "past_due");
    assert_eq!(data["current_period_start"], "2026-10-14T09:14:21.655Z");

    // Every event is stored once and delivered once, with its own id.
    let mut stored = stored_events(&app).await;
    for _ in 0..600 {
        if stored.0 == stored.1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        stored = stored_events(&app).await;
    }
    assert_eq!(stored, (5, 5));
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 5);
    let ids: BTreeSet<String> = accepted
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 5);

    // `tollgate events list` shows them delivered, and nothing pending.
    let listed = |status: &'static str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["events", "list", "--status", status])
            .env("DATABASE_URL", &app.database.url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        text.lines().skip(1).map(str::to_owned).collect::<Vec<_>>()
    };
    let delivered = listed("delivered");
    assert_eq!(delivered.len(), 5, "{delivered:#?}");
    for id in &ids {
        assert!(
            delivered
                .iter()
                .any(|line| line.starts_with(id.as_str()) && line.contains(" delivered ")),
            "{id} not listed as delivered: {delivered:#?}"
        );
    }
    assert!(delivered[0].contains("payment.failed") && delivered[0].contains(CUSTOMER));
    assert_eq!(listed("pending"), Vec::<String>::new());
    app.finish().await;
}
