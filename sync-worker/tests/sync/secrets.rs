//! Secrets never reach the logs. The real `tollgate serve` runs at `RUST_LOG=trace` with JSON
//! logs, against the Polar simulator and a stand-in of the edge worker, through a whole story:
//! a Clerk sign-up, a checkout paid in Polar and its signed webhooks, a refund, a token made
//! with `tollgate tokens create`, an edge API key, a delivery with a bad signature and calls with
//! a bad token. Then no configured secret, token, key or signature — as sent, or in the base64 or
//! hex forms the service handles — occurs anywhere in what it (and the CLI) wrote.

use crate::support::FreshDatabase;
use axum::Router;
use axum::routing::put;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use polar_sim::{Endpoint, RateLimit, SecretScheme, Sim, SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const API_TOKEN: &str = "tg-bootstrap-secret-7a1c9e3f5b2d4c6e";
const INTERNAL_SECRET: &str = "edge-internal-secret-4e8a2c6b0d1f3a5c";
const POLAR_TOKEN: &str = "polar_oat_secret_9c2e4a6b8d0f1e3a5c7b";
const BAD_TOKEN: &str = "tg-guessed-token-1f3e5d7c9b0a2c4e";

/// A Standard Webhooks secret: `whsec_` and the base64 of 32 bytes.
fn webhook_secret(byte: u8) -> (String, Vec<u8>) {
    let key = (0..32u8)
        .map(|i| i.wrapping_mul(37) ^ byte)
        .collect::<Vec<_>>();
    (format!("whsec_{}", STANDARD.encode(&key)), key)
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under `key`.
fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every form of a secret worth searching for.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![
        secret.to_owned(),
        STANDARD.encode(secret),
        hex(secret.as_bytes()),
    ];
    if let Some(encoded) = secret.strip_prefix("whsec_") {
        forms.push(encoded.to_owned());
        if let Ok(key) = STANDARD.decode(encoded) {
            forms.push(hex(&key));
        }
    }
    if let Some(signature) = secret.strip_prefix("v1,") {
        forms.push(signature.to_owned());
        if let Ok(mac) = STANDARD.decode(signature) {
            forms.push(hex(&mac));
        }
    }
    forms
}

struct Service {
    child: Child,
    url: String,
    log: PathBuf,
    env: Vec<(&'static str, String)>,
    client: reqwest::Client,
}

impl Service {
    async fn start(env: Vec<(&'static str, String)>, log: PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let service = Service {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            env,
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !service.get("/readyz", None).await.0.is_success() {
            assert!(
                Instant::now() < deadline,
                "not ready; see {}",
                service.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        service
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("idempotency-key", uuid::Uuid::new_v4().to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        match request.send().await {
            Ok(res) => {
                let status = res.status();
                (status, res.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Value::Null),
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// A signed delivery to `path` with `prefix` headers (`webhook` or `svix`).
    async fn deliver(
        &self,
        path: &str,
        prefix: &str,
        key: &[u8],
        id: &str,
        body: &Value,
    ) -> StatusCode {
        let bytes = serde_json::to_vec(body).unwrap();
        let timestamp = chrono::Utc::now().timestamp();
        self.deliver_signed(
            path,
            prefix,
            id,
            timestamp,
            &signature(key, id, timestamp, &bytes),
            bytes,
        )
        .await
    }

    async fn deliver_signed(
        &self,
        path: &str,
        prefix: &str,
        id: &str,
        timestamp: i64,
        signature: &str,
        body: Vec<u8>,
    ) -> StatusCode {
        self.client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .header(format!("{prefix}-id"), id)
            .header(format!("{prefix}-timestamp"), timestamp.to_string())
            .header(format!("{prefix}-signature"), signature)
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// `tollgate ARGS` with the service's settings; its stdout (where a made secret is printed,
    /// by design) and, separately, its logs.
    async fn cli(&self, args: &[&str]) -> (String, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "tollgate {args:?}: {output:?}");
        (
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    }

    async fn wait_for(&self, what: &str, probe: impl AsyncFn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !probe().await {
            assert!(
                Instant::now() < deadline,
                "{what}; see {}",
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(mut self) -> String {
        self.child.kill().await.unwrap();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

/// The edge worker's publish endpoint, as far as the publisher needs it: it keeps each body.
async fn edge_stand_in() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = Router::new().route(
        "/_tollgate/snapshots",
        put(move |axum::Json(body): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                axum::Json(json!({ "ok": true }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn simulator() -> SimHandle {
    Sim::start(SimConfig {
        access_token: POLAR_TOKEN.to_owned(),
        seed_catalog: true,
        rate_limit: RateLimit::off(),
        delivery: polar_sim::DeliveryConfig {
            retry_base: Duration::from_millis(50),
            ..polar_sim::DeliveryConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn no_secret_token_key_or_signature_is_ever_logged() {
    let (polar_secret, polar_key) = webhook_secret(0x5a);
    let (clerk_secret, clerk_key) = webhook_secret(0xc3);
    let sim = simulator().await;
    let database = FreshDatabase::create().await;
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("secrets-tollgate.log");
    let (edge_url, published) = edge_stand_in().await;
    let env = vec![
        ("DATABASE_URL", database.url.clone()),
        (
            "TOLLGATE_CATALOG",
            crate::support::catalog_path().display().to_string(),
        ),
        ("TOLLGATE_API_TOKEN", API_TOKEN.to_owned()),
        ("POLAR_WEBHOOK_SECRET", polar_secret.clone()),
        ("POLAR_ORGANIZATION_TOKEN", POLAR_TOKEN.to_owned()),
        ("POLAR_API_URL", sim.base_url().to_owned()),
        ("CLERK_WEBHOOK_SECRET", clerk_secret.clone()),
        ("TOLLGATE_PUBLISH_SINK", "edge".to_owned()),
        ("TOLLGATE_EDGE_URL", edge_url),
        ("TOLLGATE_INTERNAL_SECRET", INTERNAL_SECRET.to_owned()),
        ("TOLLGATE_JOBS", "false".to_owned()),
        ("TOLLGATE_LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "trace".to_owned()),
    ];
    let service = Service::start(env, log).await;
    sim.set_webhook_endpoint(Some(Endpoint {
        url: format!("{}/webhooks/polar", service.url),
        secret: polar_secret.clone(),
        scheme: SecretScheme::Standard,
    }))
    .unwrap();
    let mut secrets = vec![
        API_TOKEN.to_owned(),
        INTERNAL_SECRET.to_owned(),
        POLAR_TOKEN.to_owned(),
        BAD_TOKEN.to_owned(),
        polar_secret.clone(),
        clerk_secret.clone(),
    ];
    let mut cli_logs = String::new();

    // Products, as after `tollgate sync products`.
    let (_, logs) = service.cli(&["sync", "products"]).await;
    cli_logs.push_str(&logs);

    // A token for the app, printed once by the CLI.
    let (printed, logs) = service
        .cli(&["tokens", "create", "--name", "web", "--role", "app"])
        .await;
    cli_logs.push_str(&logs);
    let app_token = printed
        .lines()
        .skip_while(|line| !line.contains("shown this once"))
        .nth(1)
        .unwrap_or_else(|| panic!("no token in {printed:?}"))
        .trim()
        .to_owned();
    secrets.push(app_token.clone());

    // A Clerk sign-up makes the Polar customer.
    let user = "user_secret_story";
    let created = json!({
        "type": "user.created", "object": "event",
        "data": { "id": user, "object": "user", "first_name": "Ada", "last_name": "L",
                  "primary_email_address_id": "idn_1",
                  "email_addresses": [{ "id": "idn_1", "email_address": "ada@example.com" }] },
    });
    let status = service
        .deliver(
            "/webhooks/clerk",
            "svix",
            &clerk_key,
            "msg_secret_1",
            &created,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // A checkout, paid in Polar; Polar's signed webhooks make the customer premium.
    let (status, checkout) = service
        .post(
            "/v1/checkouts",
            Some(&app_token),
            json!({
                "customer": user, "plan": "premium",
                "success_url": "https://app.example.com/welcome",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{checkout}");
    let id = checkout["id"].as_str().unwrap().parse().unwrap();
    sim.run(polar_sim::Action::CompleteCheckout {
        checkout: id,
        product: None,
    })
    .unwrap();
    sim.webhooks_settled().await;
    service
        .wait_for("the checkout's order to arrive", async || {
            let (_, orders) = service
                .get(&format!("/v1/customers/{user}/orders"), Some(&app_token))
                .await;
            orders["items"]
                .as_array()
                .is_some_and(|items| !items.is_empty())
        })
        .await;

    // A refund of that order, by the admin.
    let (_, orders) = service
        .get(&format!("/v1/customers/{user}/orders"), Some(&app_token))
        .await;
    let order = orders["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, refund) = service
        .post(
            "/v1/refunds",
            Some(API_TOKEN),
            json!({ "order": order, "amount": 100, "reason": "customer_request" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{refund}");

    // An edge API key, shown once.
    let (status, key) = service
        .post(
            "/v1/admin/api-keys",
            Some(API_TOKEN),
            json!({ "customer": user, "name": "backend" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    secrets.push(key["key"].as_str().unwrap().to_owned());

    // A delivery signed here (its signature must not be logged either), one with a bad
    // signature, and calls with a bad token and no token.
    let event =
        json!({ "type": "checkout.created", "timestamp": "2026-12-01T10:00:00Z", "data": {} });
    let body = serde_json::to_vec(&event).unwrap();
    let now = chrono::Utc::now().timestamp();
    let good = signature(&polar_key, "msg_signed_here", now, &body);
    service
        .deliver_signed(
            "/webhooks/polar",
            "webhook",
            "msg_signed_here",
            now,
            &good,
            body.clone(),
        )
        .await;
    secrets.push(good);
    let forged = signature(b"not the secret", "msg_forged", now, &body);
    let status = service
        .deliver_signed(
            "/webhooks/polar",
            "webhook",
            "msg_forged",
            now,
            &forged,
            body,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    secrets.push(forged);
    let (status, _) = service
        .get(&format!("/v1/entitlements/{user}"), Some(BAD_TOKEN))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = service
        .get(&format!("/v1/entitlements/{user}"), Some(&app_token))
        .await;
    assert_eq!(status, StatusCode::OK);
    // The publisher sends the snapshots and the key to the edge, with the internal secret.
    service
        .wait_for("the API key to be published", async || {
            published
                .lock()
                .unwrap()
                .iter()
                .any(|body| body["keys"].as_array().is_some_and(|keys| !keys.is_empty()))
        })
        .await;

    let logs = service.stop().await;
    sim.shutdown().await;
    let lines: Vec<&str> = logs.lines().collect();
    assert!(
        lines.len() > 100,
        "too little was logged: {} lines",
        lines.len()
    );
    assert!(
        lines
            .iter()
            .all(|line| serde_json::from_str::<Value>(line).is_ok()),
        "every line is JSON"
    );
    assert!(
        logs.contains("\"level\":\"TRACE\""),
        "trace events were logged"
    );
    let everything = format!("{logs}\n{cli_logs}");
    for secret in &secrets {
        for form in forms(secret) {
            assert!(
                !everything.contains(&form),
                "`{form}` (a form of a secret) is in the logs; see {}",
                PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                    .join("secrets-tollgate.log")
                    .display()
            );
        }
    }
}
