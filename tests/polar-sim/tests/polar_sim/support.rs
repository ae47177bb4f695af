//! Test helpers: a started simulator, a Polar API client and a webhook receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use polar_sim::{DeliveryConfig, Endpoint, RateLimit, SecretScheme, Sim, SimConfig, SimHandle};
use serde_json::Value;

/// A simulator with the demo data, no rate limit and millisecond retries.
pub async fn demo_sim() -> SimHandle {
    start(SimConfig {
        seed_demo: true,
        ..config()
    })
    .await
}

pub fn config() -> SimConfig {
    SimConfig {
        rate_limit: RateLimit::off(),
        delivery: DeliveryConfig {
            retry_base: Duration::from_millis(1),
            max_backoff: Duration::from_millis(20),
            ..DeliveryConfig::default()
        },
        ..SimConfig::default()
    }
}

pub async fn start(config: SimConfig) -> SimHandle {
    Sim::start(config).await.expect("the simulator starts")
}

/// A Polar API client for the simulator.
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(sim: &SimHandle) -> Self {
        Self {
            base: sim.base_url().to_owned(),
            token: sim.access_token().to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Polar-Version", "2026-10");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("the simulator answers");
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// A GET that must succeed.
    pub async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// A raw request for header checks.
    pub fn raw(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    pub fn token(&self) -> &str {
        &self.token
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub api_version: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap().to_owned()
    }
}

#[derive(Debug, Default)]
struct ReceiverState {
    received: Vec<Received>,
    /// Answer 500 to this many requests before answering 202.
    failures_left: u32,
    /// Answer 500 to this many requests carrying this event type.
    type_failures: Option<(String, u32)>,
}

/// A webhook endpoint that records what it receives.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let app = axum::Router::new()
            .route("/webhooks", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, state }
    }

    pub fn endpoint(&self, secret: &str, scheme: SecretScheme) -> Endpoint {
        Endpoint {
            url: self.url.clone(),
            secret: secret.to_owned(),
            scheme,
        }
    }

    pub fn fail_next(&self, n: u32) {
        self.state.lock().unwrap().failures_left = n;
    }

    /// Fails the next `n` deliveries of `event_type` only.
    pub fn fail_type(&self, event_type: &str, n: u32) {
        self.state.lock().unwrap().type_failures = Some((event_type.to_owned(), n));
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn types(&self) -> Vec<String> {
        self.received().iter().map(Received::event_type).collect()
    }

    pub fn clear(&self) {
        self.state.lock().unwrap().received.clear();
    }
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut st = state.lock().unwrap();
    let received = Received {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        api_version: h("webhook-api-version"),
        body: String::from_utf8(body.to_vec()).unwrap(),
    };
    let event_type = received.event_type();
    st.received.push(received);
    if let Some((t, n)) = &mut st.type_failures
        && *t == event_type
        && *n > 0
    {
        *n -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if st.failures_left > 0 {
        st.failures_left -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::ACCEPTED
    }
}
