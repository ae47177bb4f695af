//! What schemathesis found the service answering against its OpenAPI document, each fixed and
//! kept fixed here: a U+0000 in a string reached PostgreSQL (which cannot store it) and answered
//! 500; an unknown route or method answered an empty body without a `code`.

use crate::support::{API_TOKEN, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(API_TOKEN)
        .header("idempotency-key", "contract-key");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let res = request.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn audit_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn rejects_a_nul_in_a_refund_order_with_400() {
    let app = TestApp::spawn("2026-11-20T12:00:00Z").await;
    let body = json!({ "order": "order\u{0}1", "reason": "other" });
    let (status, answer) = send(&app, Method::POST, "/v1/refunds", Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "invalid_request");
    assert!(answer["message"].as_str().unwrap().contains("U+0000"));
    assert_eq!(
        audit_rows(&app).await,
        0,
        "a refused request changes nothing"
    );
    app.finish().await;
}

#[tokio::test]
async fn rejects_a_nul_in_an_admin_body_or_a_check_with_400() {
    let app = TestApp::spawn("2026-11-20T12:00:00Z").await;
    let grant = json!({ "customer": "a\u{0}", "feature": "projects", "amount": 2, "reason": "x" });
    let (status, answer) = send(&app, Method::POST, "/v1/admin/grants", Some(grant)).await;
    assert_eq!(
        (status, answer["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_request"))
    );
    let check = json!({ "customer": "user\u{0}", "feature": "projects" });
    let (status, answer) = send(&app, Method::POST, "/v1/check", Some(check)).await;
    assert_eq!(
        (status, answer["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_request"))
    );
    assert_eq!(audit_rows(&app).await, 0);
    app.finish().await;
}

#[tokio::test]
async fn rejects_a_nul_in_a_path_or_query_with_400() {
    let app = TestApp::spawn("2026-11-20T12:00:00Z").await;
    for path in [
        "/v1/entitlements/user%00x",
        "/v1/customers/user%00x/orders",
        "/v1/admin/audit?customer=%00",
        "/v1/admin/customers?q=ab%00",
    ] {
        let (status, answer) = send(&app, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert_eq!(answer["code"], "invalid_request", "{path}");
    }
    app.finish().await;
}

#[tokio::test]
async fn refuses_a_usage_event_with_a_nul_in_its_id_and_counts_the_others() {
    let app = TestApp::spawn("2026-11-20T12:00:00Z").await;
    let event = |id: &str| {
        json!({ "id": id, "customer": "user_1", "feature": "api_calls", "amount": 1,
                "timestamp": "2026-11-20T11:59:00Z" })
    };
    let batch = json!({ "events": [event("e\u{0}1"), event("e2")] });
    let (status, answer) = send(&app, Method::POST, "/v1/usage", Some(batch)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 1);
    assert_eq!(answer["rejected"][0]["index"], 0);
    assert_eq!(answer["rejected"][0]["code"], "invalid_event");
    app.finish().await;
}

#[tokio::test]
async fn answers_an_unknown_route_or_method_with_its_code() {
    let app = TestApp::spawn("2026-11-20T12:00:00Z").await;
    let (status, answer) = send(&app, Method::TRACE, "/healthz", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer["code"], "method_not_allowed");
    let (status, answer) = send(&app, Method::GET, "/v1/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["code"], "not_found");
    app.finish().await;
}
