//! Usage batches for customers Polar does not know (free users), with what was sent kept as
//! the truth: every event counted once, whatever the retries and repeats.

use super::stats::Stats;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Events in one batch.
const EVENTS: usize = 20;
/// The share of batches that are a batch sent before, again.
const REPEATS: f64 = 0.10;

pub fn customer(n: usize) -> String {
    format!("soak_usage_{n:04}")
}

pub struct Usage {
    client: reqwest::Client,
    url: String,
    token: String,
    customers: usize,
    next_id: AtomicU64,
    /// Bodies acknowledged so far, to repeat.
    sent: Mutex<Vec<Arc<String>>>,
    /// Units per customer of every distinct event acknowledged.
    pub ledger: Mutex<BTreeMap<String, i64>>,
    pub events: AtomicU64,
    pub repeated_batches: AtomicU64,
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    pub rejected: AtomicU64,
}

impl Usage {
    /// A batch sent before (one time in ten), or a new one with the units it carries per
    /// customer.
    fn next_batch(&self) -> (Arc<String>, BTreeMap<String, i64>) {
        use rand::Rng as _;
        let mut rng = rand::rng();
        if rng.random_bool(REPEATS) {
            let sent = self.sent.lock().unwrap();
            if !sent.is_empty() {
                self.repeated_batches.fetch_add(1, Ordering::Relaxed);
                return (
                    Arc::clone(&sent[rng.random_range(0..sent.len())]),
                    BTreeMap::new(),
                );
            }
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut units: BTreeMap<String, i64> = BTreeMap::new();
        let events: Vec<Value> = (0..EVENTS)
            .map(|_| {
                let customer = customer(rng.random_range(0..self.customers));
                let amount = rng.random_range(1..=5);
                *units.entry(customer.clone()).or_default() += amount;
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                json!({"id": format!("soak-{id}"), "customer": customer,
                       "feature": "api_calls", "amount": amount, "timestamp": now})
            })
            .collect();
        (Arc::new(json!({ "events": events }).to_string()), units)
    }

    pub fn new(url: &str, token: &str, customers: usize) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            url: format!("{url}/v1/usage"),
            token: token.to_owned(),
            customers,
            next_id: AtomicU64::new(0),
            sent: Mutex::new(Vec::new()),
            ledger: Mutex::new(BTreeMap::new()),
            events: AtomicU64::new(0),
            repeated_batches: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    /// Sends one batch: a new one, or one sent before; retried until acknowledged.
    pub async fn send(&self, stats: &Stats) {
        let (body, units) = self.next_batch();
        loop {
            let started = Instant::now();
            let answer = self
                .client
                .post(&self.url)
                .bearer_auth(&self.token)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await;
            let error = match answer {
                Ok(response) if response.status().is_success() => {
                    stats.record("usage", started.elapsed(), None);
                    let receipt: Value = response.json().await.unwrap_or(Value::Null);
                    let count = |field: &str| receipt[field].as_u64().unwrap_or(0);
                    self.accepted
                        .fetch_add(count("accepted"), Ordering::Relaxed);
                    self.duplicates
                        .fetch_add(count("duplicates"), Ordering::Relaxed);
                    let rejected = receipt["rejected"].as_array().map_or(0, Vec::len);
                    self.rejected.fetch_add(rejected as u64, Ordering::Relaxed);
                    break;
                }
                Ok(response) => {
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    format!("{status} {}", body["code"].as_str().unwrap_or("?"))
                }
                Err(_) => "no answer".to_owned(),
            };
            stats.record("usage", started.elapsed(), Some(error));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if !units.is_empty() {
            self.events.fetch_add(EVENTS as u64, Ordering::Relaxed);
            let mut ledger = self.ledger.lock().unwrap();
            for (customer, amount) in units {
                *ledger.entry(customer).or_default() += amount;
            }
            self.sent.lock().unwrap().push(body);
        }
    }
}
