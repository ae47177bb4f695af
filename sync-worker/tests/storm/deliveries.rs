//! The storm itself: every webhook delivered one to three times, in a shuffled order, over
//! several connections at once.
//!
//! Each delivery is signed the way Polar signs it (Standard Webhooks, a fresh timestamp and
//! signature per attempt, the same `webhook-id` and body) and is retried the way Polar retries
//! it: an attempt that does not get a 2xx — connection refused or cut off while the service is
//! down, a 5xx while PostgreSQL restarts — is made again after a growing pause, until it is
//! accepted, since an unacknowledged delivery is Polar's to resend. A 4xx would be a refusal of
//! a genuine delivery: it is recorded, not retried, and fails the test.

use polar_sim::EventRecord;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Pause after a first failed attempt; it doubles up to [`MAX_BACKOFF`]. Polar starts at 2 s;
/// the storm is shorter, so its sender is too.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// A delivery not accepted within this long means the service never came back.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

/// What happened to the deliveries.
#[derive(Debug, Default)]
pub struct Tally {
    /// HTTP attempts made, retries included.
    pub attempts: AtomicUsize,
    /// Deliveries that needed more than one attempt.
    pub retried: AtomicUsize,
    /// Attempts answered with a 5xx.
    pub server_errors: AtomicUsize,
    /// Attempts that got no answer (refused, reset, timed out).
    pub unanswered: AtomicUsize,
    /// Accepted deliveries by the receipt's `status`.
    pub receipts: Mutex<BTreeMap<String, usize>>,
    /// Deliveries refused with a 4xx: `status body` of each.
    pub rejected: Mutex<Vec<String>>,
}

/// The order of the storm: each event's index once per copy, shuffled.
pub fn shuffled_copies(events: usize, rng: &mut StdRng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..events)
        .flat_map(|i| std::iter::repeat_n(i, rng.random_range(1..=3)))
        .collect();
    order.shuffle(rng);
    order
}

/// Sends deliveries to one endpoint.
pub struct Sender {
    client: reqwest::Client,
    url: String,
    key: Vec<u8>,
    events: Vec<EventRecord>,
    order: Vec<usize>,
    next: AtomicUsize,
    accepted: watch::Sender<usize>,
    failed: watch::Sender<usize>,
    pub tally: Tally,
}

impl Sender {
    pub fn new(url: String, key: Vec<u8>, events: Vec<EventRecord>, order: Vec<usize>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self {
            client,
            url,
            key,
            events,
            order,
            next: AtomicUsize::new(0),
            accepted: watch::Sender::new(0),
            failed: watch::Sender::new(0),
            tally: Tally::default(),
        }
    }

    /// How many deliveries are in the storm, duplicates included.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// How many deliveries have been accepted so far.
    pub fn progress(&self) -> watch::Receiver<usize> {
        self.accepted.subscribe()
    }

    /// How many attempts have failed so far (no answer or a 5xx).
    pub fn failures(&self) -> watch::Receiver<usize> {
        self.failed.subscribe()
    }

    /// Starts `connections` concurrent senders that together make every delivery.
    pub fn start(self: &Arc<Self>, connections: usize) -> JoinSet<()> {
        let mut senders = JoinSet::new();
        for _ in 0..connections {
            let this = Arc::clone(self);
            senders.spawn(async move {
                while let Some(&event) = this.order.get(this.next.fetch_add(1, Ordering::Relaxed)) {
                    this.deliver(&this.events[event]).await;
                    this.accepted.send_modify(|n| *n += 1);
                }
            });
        }
        senders
    }

    /// Makes one delivery, retrying until it is accepted (or refused with a 4xx).
    async fn deliver(&self, event: &EventRecord) {
        let started = Instant::now();
        let mut pause = FIRST_BACKOFF;
        for attempt in 1.. {
            self.tally.attempts.fetch_add(1, Ordering::Relaxed);
            if attempt == 2 {
                self.tally.retried.fetch_add(1, Ordering::Relaxed);
            }
            match self.attempt(event).await {
                Ok(response) if response.status().is_success() => {
                    let receipt: Option<Value> = response.json().await.ok();
                    let status = receipt
                        .as_ref()
                        .and_then(|r| r["status"].as_str())
                        .unwrap_or("unreadable receipt")
                        .to_owned();
                    *self
                        .tally
                        .receipts
                        .lock()
                        .unwrap()
                        .entry(status)
                        .or_default() += 1;
                    return;
                }
                Ok(response) if response.status().is_client_error() => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    let refusal = format!("{} {status} {body}", event.event_type);
                    self.tally.rejected.lock().unwrap().push(refusal);
                    return;
                }
                Ok(_) => self.tally.server_errors.fetch_add(1, Ordering::Relaxed),
                Err(_) => self.tally.unanswered.fetch_add(1, Ordering::Relaxed),
            };
            self.failed.send_modify(|n| *n += 1);
            assert!(
                started.elapsed() < GIVE_UP_AFTER,
                "delivery {} was not accepted within {GIVE_UP_AFTER:?}",
                event.webhook_id
            );
            let jitter = rand::rng().random_range(0.5..=1.0);
            tokio::time::sleep(pause.mul_f64(jitter)).await;
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }

    async fn attempt(&self, event: &EventRecord) -> reqwest::Result<reqwest::Response> {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = polar_sim::sign(&self.key, &event.webhook_id, timestamp, &event.body);
        self.client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header("webhook-api-version", "2026-10")
            .body(event.body.clone())
            .send()
            .await
    }
}
