//! The applier: deliveries stored but never applied (a crash between the answer and the apply)
//! are applied by the poll, a batch rebuilds each customer once, and one delivery that cannot
//! be applied does not hold up the others.

use crate::support::{CUSTOMER, TestApp, fixture};
use serde_json::{Value, json};
use tollgate_sync::polar::Event;
use tollgate_sync::webhooks::{Inbox, Status, Stored};

/// Stores `event` the way `POST /webhooks/polar` does, without handing it to the applier:
/// what a crash between the answer and the apply leaves behind.
async fn store(app: &TestApp, webhook_id: &str, event: &Value) -> Option<Stored> {
    let payload = serde_json::to_string(event).unwrap();
    let parsed = Event::parse(payload.as_bytes()).unwrap();
    Inbox::start(app.pool.clone())
        .receive(webhook_id, &parsed, &payload)
        .await
        .unwrap()
}

/// Makes every pending delivery `seconds` older: old enough for the poll, which claims the
/// oldest together.
async fn age_pending(app: &TestApp, seconds: f64) {
    sqlx::query(
        "UPDATE webhook_events SET received_at = received_at - make_interval(secs => $1)
         WHERE status = 'pending'",
    )
    .bind(seconds)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// `subscription.created` for another customer (`user_<n>`), or a later version of it.
fn subscription(n: u32, minute: u32, cancel_at_period_end: bool) -> Value {
    let mut event = fixture("subscription.created");
    let data = &mut event["data"];
    data["id"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
    data["customer_id"] = json!(format!("10000000-0000-4000-8000-{n:012}"));
    data["customer"]["id"] = data["customer_id"].clone();
    data["customer"]["external_id"] = json!(format!("user_{n}"));
    data["modified_at"] = json!(format!("2026-09-14T10:{minute:02}:00.000000Z"));
    data["cancel_at_period_end"] = json!(cancel_at_period_end);
    event
}

async fn statuses(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT webhook_id, status FROM webhook_events ORDER BY webhook_id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn revisions(app: &TestApp, customer: &str) -> Vec<i64> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT revision FROM entitlement_snapshots WHERE customer = $1 ORDER BY revision",
    )
    .bind(customer)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    rows.into_iter().map(|(r,)| r).collect()
}

#[tokio::test]
async fn a_delivery_left_pending_by_a_crash_is_applied_by_the_poll() {
    let app = TestApp::spawn("2026-09-14T09:14:23Z").await;
    assert!(matches!(
        store(&app, "d-1", &fixture("subscription.created")).await,
        Some(Stored {
            status: Status::Pending,
            ..
        })
    ));
    assert_eq!(
        store(&app, "d-1", &fixture("subscription.created")).await,
        None
    );
    age_pending(&app, 60.0).await;
    app.applier.settled().await;
    assert_eq!(statuses(&app).await, [("d-1".into(), "applied".into())]);
    let snapshot = app.snapshot(CUSTOMER).await.unwrap();
    assert_eq!(snapshot["plan"]["key"], "premium");
    app.finish().await;
}

#[tokio::test]
async fn a_batch_rebuilds_each_customer_once_from_the_newest_versions() {
    let app = TestApp::spawn("2026-09-14T11:00:00Z").await;
    // Three versions of user_1's subscription, newest first, and one of user_2's: one batch.
    store(&app, "a", &subscription(1, 30, false)).await;
    store(&app, "b", &subscription(1, 20, true)).await;
    store(&app, "c", &subscription(1, 10, true)).await;
    store(&app, "d", &subscription(2, 10, false)).await;
    age_pending(&app, 60.0).await;
    app.applier.settled().await;

    let done = statuses(&app).await;
    assert_eq!(
        done,
        [
            ("a".into(), "applied".into()),
            ("b".into(), "stale".into()),
            ("c".into(), "stale".into()),
            ("d".into(), "applied".into()),
        ]
    );
    assert_eq!(revisions(&app, "user_1").await, [1]);
    assert_eq!(revisions(&app, "user_2").await, [1]);
    let snapshot = app.snapshot("user_1").await.unwrap();
    assert_eq!(snapshot["plan"]["key"], "premium");
    assert_eq!(snapshot["subscriptions"][0]["cancel_at_period_end"], false);
    app.finish().await;
}

#[tokio::test]
async fn a_delivery_that_cannot_be_applied_does_not_hold_up_its_batch() {
    let app = TestApp::spawn("2026-09-14T11:00:00Z").await;
    app.refuse_snapshots(Some("user_2")).await;
    for n in 1..=3 {
        store(&app, &format!("d-{n}"), &subscription(n, 10, false)).await;
    }
    age_pending(&app, 60.0).await;
    app.applier.settled().await;

    assert_eq!(
        statuses(&app).await,
        [
            ("d-1".into(), "applied".into()),
            ("d-2".into(), "failed".into()),
            ("d-3".into(), "applied".into()),
        ]
    );
    let (error,): (String,) =
        sqlx::query_as("SELECT last_error FROM webhook_events WHERE webhook_id = 'd-2'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(error.contains("snapshots of user_2 are refused"), "{error}");
    assert!(app.snapshot("user_1").await.is_some());
    assert!(app.snapshot("user_3").await.is_some());
    // Nothing of user_2's delivery was half-applied.
    let (subscriptions,): (i64,) = sqlx::query_as("SELECT count(*) FROM subscriptions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(subscriptions, 2);
    app.finish().await;
}

#[tokio::test]
async fn health_reports_a_delivery_the_applier_cannot_take() {
    let app = TestApp::spawn("2026-09-14T09:14:23Z").await;
    store(&app, "d-1", &fixture("subscription.created")).await;
    age_pending(&app, 120.0).await;
    // A transaction holds the delivery, so every pass of the applier skips it.
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM webhook_events WHERE webhook_id = 'd-1' FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let report = tollgate_sync::health::check(&app.pool, None, chrono::Utc::now()).await;
    let backlog = report.get("webhook_backlog").unwrap();
    assert!(!backlog.ok, "{backlog:?}");
    assert!(
        backlog.detail.contains("1 pending webhook deliveries"),
        "{backlog:?}"
    );

    holder.rollback().await.unwrap();
    app.applier.settled().await;
    let report = tollgate_sync::health::check(&app.pool, None, chrono::Utc::now()).await;
    assert!(report.get("webhook_backlog").unwrap().ok);
    assert_eq!(statuses(&app).await, [("d-1".into(), "applied".into())]);
    app.finish().await;
}
