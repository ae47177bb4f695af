//! Polar's webhooks, delivered in bursts: each delivery a new event or, one time in ten, an
//! event delivered before, again. Signed as Polar signs them (a fresh timestamp per attempt)
//! and retried as Polar retries them until a 2xx; a 4xx is a refusal of a genuine delivery.

use super::stats::Stats;
use polar_sim::EventRecord;
use rand::Rng as _;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The share of deliveries that repeat an earlier one.
const DUPLICATES: f64 = 0.10;

pub struct Webhooks {
    client: reqwest::Client,
    url: String,
    key: Vec<u8>,
    events: Vec<EventRecord>,
    next: AtomicUsize,
    delivered: Mutex<Vec<usize>>,
    pub duplicates_sent: AtomicU64,
    pub receipts: Mutex<BTreeMap<String, u64>>,
    pub refused: Mutex<Vec<String>>,
}

impl Webhooks {
    pub fn new(url: String, key: Vec<u8>, events: Vec<EventRecord>) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            url,
            key,
            events,
            next: AtomicUsize::new(0),
            delivered: Mutex::new(Vec::new()),
            duplicates_sent: AtomicU64::new(0),
            receipts: Mutex::new(BTreeMap::new()),
            refused: Mutex::new(Vec::new()),
        }
    }

    pub fn total(&self) -> usize {
        self.events.len()
    }

    /// New events not delivered yet.
    pub fn left(&self) -> usize {
        self.events
            .len()
            .saturating_sub(self.next.load(Ordering::Relaxed))
    }

    /// Delivers `new` new events (fewer if fewer are left) and about a tenth as many repeats,
    /// over `connections` connections at once.
    pub async fn burst(self: &Arc<Self>, new: usize, connections: usize, stats: &Arc<Stats>) {
        let end = (self.next.load(Ordering::Relaxed).saturating_add(new)).min(self.events.len());
        let mut senders = JoinSet::new();
        for _ in 0..connections {
            let (this, stats) = (Arc::clone(self), Arc::clone(stats));
            senders.spawn(async move {
                loop {
                    let repeat = rand::rng().random_bool(DUPLICATES);
                    let event = if repeat {
                        let delivered = this.delivered.lock().unwrap();
                        if delivered.is_empty() {
                            continue;
                        }
                        let at = rand::rng().random_range(0..delivered.len());
                        this.duplicates_sent.fetch_add(1, Ordering::Relaxed);
                        delivered[at]
                    } else {
                        let index = this.next.fetch_add(1, Ordering::Relaxed);
                        if index >= end {
                            this.next.fetch_min(end, Ordering::Relaxed);
                            return;
                        }
                        index
                    };
                    this.deliver(event, &stats).await;
                    if !repeat {
                        this.delivered.lock().unwrap().push(event);
                    }
                }
            });
        }
        while let Some(done) = senders.join_next().await {
            done.unwrap();
        }
    }

    async fn deliver(&self, index: usize, stats: &Stats) {
        let event = &self.events[index];
        let started = Instant::now();
        loop {
            let attempt = Instant::now();
            let timestamp = chrono::Utc::now().timestamp();
            let signature = polar_sim::sign(&self.key, &event.webhook_id, timestamp, &event.body);
            let answer = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header("webhook-id", &event.webhook_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(event.body.clone())
                .send()
                .await;
            match answer {
                Ok(response) if response.status().is_success() => {
                    stats.record("webhook", attempt.elapsed(), None);
                    let receipt: Option<Value> = response.json().await.ok();
                    let status = receipt
                        .as_ref()
                        .and_then(|r| r["status"].as_str())
                        .unwrap_or("unreadable")
                        .to_owned();
                    *self.receipts.lock().unwrap().entry(status).or_default() += 1;
                    return;
                }
                Ok(response) => {
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    let code = body["code"].as_str().unwrap_or("?").to_owned();
                    stats.record(
                        "webhook",
                        attempt.elapsed(),
                        Some(format!("{status} {code}")),
                    );
                    if status.is_client_error() {
                        let refusal = format!("{} {status} {body}", event.event_type);
                        self.refused.lock().unwrap().push(refusal);
                        return;
                    }
                }
                Err(_) => stats.record("webhook", attempt.elapsed(), Some("no answer".to_owned())),
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "delivery {} not accepted within 5 minutes",
                event.webhook_id
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
