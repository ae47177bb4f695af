//! Publishing: the outbox reaches Workers KV through a sink, coalesced per key, and a sink
//! outage delays publication without losing anything.

use std::sync::{Arc, Mutex};

use crate::support::{CUSTOMER, TestApp, fixture};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::put;
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::{Value, json};
use tollgate_sync::publish::{self, CloudflareSink, Sink};

const CF_TOKEN: &str = "cf-test-token";

/// A stand-in for Cloudflare's bulk KV endpoint: it records every write and answers as told.
#[derive(Clone, Default)]
struct StandIn {
    writes: Arc<Mutex<Vec<Vec<Value>>>>,
    /// Answers to give before behaving (status, body); empty = success.
    faults: Arc<Mutex<Vec<(StatusCode, Value)>>>,
}

impl StandIn {
    async fn start(&self) -> String {
        async fn bulk(
            State(stand_in): State<StandIn>,
            headers: HeaderMap,
            Json(pairs): Json<Vec<Value>>,
        ) -> (StatusCode, Json<Value>) {
            let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some(&format!("Bearer {CF_TOKEN}"));
            if !authorized {
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(
                        json!({ "success": false, "errors": [{ "code": 10000, "message": "Authentication error" }] }),
                    ),
                );
            }
            if let Some(fault) = stand_in.faults.lock().unwrap().pop() {
                return (fault.0, Json(fault.1));
            }
            let count = pairs.len();
            stand_in.writes.lock().unwrap().push(pairs);
            (
                StatusCode::OK,
                Json(json!({ "success": true, "errors": [], "messages": [],
                "result": { "successful_key_count": count, "unsuccessful_keys": [] } })),
            )
        }
        let app = Router::new()
            .route(
                "/client/v4/accounts/{account}/storage/kv/namespaces/{namespace}/bulk",
                put(bulk),
            )
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    }

    fn writes(&self) -> Vec<Vec<Value>> {
        self.writes.lock().unwrap().clone()
    }
}

fn sink(api: &str) -> Sink {
    Sink::Cloudflare(CloudflareSink::new(api, "acct", "ns", SecretString::from(CF_TOKEN)).unwrap())
}

async fn pending_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM publish_outbox WHERE published_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A customer whose snapshot changed several times: several outbox rows, one per revision.
async fn customer_with_revisions(app: &TestApp) {
    for event in [
        "subscription.created",
        "subscription.active",
        "subscription.canceled",
    ] {
        app.deliver_at_its_time(&fixture(event)).await;
    }
    let revisions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM publish_outbox WHERE customer = $1")
            .bind(CUSTOMER)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        revisions >= 2,
        "the story should give several revisions, got {revisions}"
    );
}

#[tokio::test]
async fn the_outbox_reaches_kv_once_per_key_with_the_latest_revision() {
    let app = TestApp::spawn("2026-09-14T09:14:00Z").await;
    customer_with_revisions(&app).await;
    let stand_in = StandIn::default();
    let sink = sink(&stand_in.start().await);

    let pass = publish::run_once(&app.pool, &sink).await.unwrap();
    assert_eq!(pass.written, 1, "{pass:?}");
    assert_eq!(pending_rows(&app).await, 0);

    let writes = stand_in.writes();
    assert_eq!(writes.len(), 1, "one bulk request");
    let pairs = &writes[0];
    assert_eq!(
        pairs.len(),
        1,
        "revisions of one customer coalesce into one write: {pairs:#?}"
    );
    assert_eq!(pairs[0]["key"], format!("ent:v1:{CUSTOMER}"));
    let written: Value = serde_json::from_str(pairs[0]["value"].as_str().unwrap()).unwrap();
    let current = app.snapshot(CUSTOMER).await.unwrap();
    assert_eq!(written, current, "KV holds the current snapshot exactly");

    let again = publish::run_once(&app.pool, &sink).await.unwrap();
    assert_eq!(again.written, 0, "nothing is published twice");
    assert_eq!(stand_in.writes().len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn a_sink_outage_delays_publication_and_loses_nothing() {
    let app = TestApp::spawn("2026-09-14T09:14:00Z").await;
    customer_with_revisions(&app).await;
    let before = pending_rows(&app).await;
    let stand_in = StandIn::default();
    stand_in.faults.lock().unwrap().extend([
        // Faults pop from the end: first a partial write, then an outage.
        (StatusCode::OK, json!({ "success": true, "errors": [], "result": { "successful_key_count": 0, "unsuccessful_keys": [format!("ent:v1:{CUSTOMER}")] } })),
        (StatusCode::SERVICE_UNAVAILABLE, json!({ "success": false, "errors": [{ "code": 10013, "message": "service unavailable" }] })),
    ]);
    let sink = sink(&stand_in.start().await);

    for _ in 0..2 {
        let pass = publish::run_once(&app.pool, &sink).await.unwrap();
        assert_eq!(
            (pass.written, pass.deferred as i64),
            (0, before),
            "{pass:?}"
        );
        assert_eq!(
            pending_rows(&app).await,
            before,
            "a failed publish keeps every row"
        );
        let (attempts, error): (i32, Option<String>) = sqlx::query_as(
            "SELECT max(attempts), max(last_error) FROM publish_outbox WHERE published_at IS NULL",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert!(attempts >= 1 && error.is_some(), "the failure is recorded");
        // A failed row waits for its backoff; the next pass leaves it alone until then.
        assert_eq!(publish::run_once(&app.pool, &sink).await.unwrap().rows, 0);
        sqlx::query("UPDATE publish_outbox SET next_attempt_at = now() WHERE published_at IS NULL")
            .execute(&app.pool)
            .await
            .unwrap();
    }

    let pass = publish::run_once(&app.pool, &sink).await.unwrap();
    assert_eq!(pass.written, 1);
    assert_eq!(
        pending_rows(&app).await,
        0,
        "published once the sink is back"
    );
    assert_eq!(stand_in.writes().len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn a_sink_that_refuses_our_token_publishes_nothing() {
    let app = TestApp::spawn("2026-09-14T09:14:00Z").await;
    customer_with_revisions(&app).await;
    let stand_in = StandIn::default();
    let api = stand_in.start().await;
    let wrong = Sink::Cloudflare(
        CloudflareSink::new(&api, "acct", "ns", SecretString::from("wrong")).unwrap(),
    );
    let pass = publish::run_once(&app.pool, &wrong).await.unwrap();
    assert_eq!(pass.written, 0);
    assert!(pass.deferred > 0);
    assert!(stand_in.writes().is_empty());
    app.finish().await;
}
