//! Delivering webhook events the way Polar does.
//!
//! Events are queued in the order they were created. One worker makes each event's *first*
//! attempt in that order (Polar's best-effort FIFO per endpoint); an event whose attempt fails
//! is retried on its own schedule, so later events overtake it — as they do in Polar. Retries
//! follow Polar's backoff: after failed attempt *n*, `min(base · 2^n, 20 min)` with jitter in
//! [50 %, 100 %], 10 attempts in all; `base` is 2 s in Polar and configurable here so tests run
//! in milliseconds. Success is any 2xx; redirects are not followed. The body is serialized once
//! and replayed byte for byte; each attempt gets a fresh `webhook-timestamp` (wall clock, since
//! receivers check it against theirs) and signature, and the same `webhook-id`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::faults::{self, Fault, FaultRule};
use super::signing::{self, SecretScheme, SigningError};
use crate::clock::polar_time;
use crate::lifecycle::Emitted;

/// The API version written into payloads and the `webhook-api-version` header.
pub const API_VERSION: &str = "2026-10";

/// How many events the log keeps (oldest forgotten first), so long runs stay bounded.
pub const EVENT_LOG_CAPACITY: usize = 50_000;

/// Where events go and how they are signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub url: String,
    pub secret: String,
    #[serde(default)]
    pub scheme: SecretScheme,
}

/// Retry and timeout settings.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Backoff base (Polar: 2 s).
    pub retry_base: Duration,
    /// Backoff cap (Polar: 20 min).
    pub max_backoff: Duration,
    /// Attempts per event, the first included (Polar: 10).
    pub max_attempts: u32,
    /// Per-attempt timeout (Polar: 10 s).
    pub timeout: Duration,
    /// Stamp `webhook-timestamp` with the simulated clock instead of the wall clock, for
    /// receivers whose own clock is the simulated one (they check it within ±5 minutes).
    pub simulated_timestamps: bool,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(2),
            max_backoff: Duration::from_secs(20 * 60),
            max_attempts: 10,
            timeout: Duration::from_secs(10),
            simulated_timestamps: false,
        }
    }
}

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Queued or being retried.
    Pending,
    /// Held back by a reorder fault.
    Held,
    /// A 2xx answer.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// Dropped by a fault.
    Dropped,
    /// No endpoint was configured when the event happened.
    NoEndpoint,
}

/// One HTTP attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub webhook_id: String,
    pub event_type: String,
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// One event and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRecord {
    pub webhook_id: String,
    pub event_type: String,
    /// The exact body sent.
    pub body: String,
    pub outcome: Outcome,
    pub attempts: u32,
}

#[derive(Debug, Clone)]
struct Queued {
    webhook_id: String,
    event_type: String,
    body: Arc<str>,
}

#[derive(Debug)]
enum Msg {
    Event(Queued),
    Flush,
}

#[derive(Debug)]
struct Inner {
    config: DeliveryConfig,
    endpoint: Mutex<Option<(Endpoint, Vec<u8>)>>,
    faults: Mutex<Vec<FaultRule>>,
    events: Mutex<VecDeque<EventRecord>>,
    attempts: Mutex<Vec<Attempt>>,
    /// Events not yet delivered, failed or dropped.
    pending: watch::Sender<usize>,
    /// The simulated clock in Unix seconds, for `simulated_timestamps`.
    sim_now: AtomicI64,
    client: reqwest::Client,
}

/// The webhook sender. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
    tx: mpsc::UnboundedSender<Msg>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    #[error(transparent)]
    Secret(#[from] SigningError),
    #[error("could not build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Webhooks {
    /// Starts the delivery worker on the current Tokio runtime.
    pub fn start(
        config: DeliveryConfig,
        endpoint: Option<Endpoint>,
    ) -> Result<Self, DeliveryError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("polar.sh webhooks")
            .timeout(config.timeout)
            .build()?;
        let endpoint = endpoint.map(keyed).transpose()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            config,
            endpoint: Mutex::new(endpoint),
            faults: Mutex::new(Vec::new()),
            events: Mutex::new(VecDeque::new()),
            attempts: Mutex::new(Vec::new()),
            pending: watch::Sender::new(0),
            sim_now: AtomicI64::new(0),
            client,
        });
        tokio::spawn(worker(inner.clone(), rx));
        Ok(Self { inner, tx })
    }

    /// Replaces the endpoint (or removes it); later deliveries and retries use the new one.
    pub fn set_endpoint(&self, endpoint: Option<Endpoint>) -> Result<(), DeliveryError> {
        let keyed = endpoint.map(keyed).transpose()?;
        *lock(&self.inner.endpoint) = keyed;
        Ok(())
    }

    pub fn endpoint(&self) -> Option<Endpoint> {
        lock(&self.inner.endpoint).as_ref().map(|(e, _)| e.clone())
    }

    /// Tells the sender where the simulated clock stands.
    pub fn set_sim_now(&self, now: chrono::DateTime<chrono::Utc>) {
        self.inner.sim_now.store(now.timestamp(), Ordering::Relaxed);
    }

    /// Adds a fault rule for upcoming events.
    pub fn add_fault(&self, rule: FaultRule) {
        lock(&self.inner.faults).push(rule);
    }

    /// Removes every fault rule not used up yet.
    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    pub fn faults(&self) -> Vec<FaultRule> {
        lock(&self.inner.faults).clone()
    }

    /// Queues events for delivery, in order; returns their types.
    pub fn enqueue(&self, events: Vec<Emitted>) -> Vec<String> {
        let has_endpoint = lock(&self.inner.endpoint).is_some();
        let types = events.iter().map(|e| e.event_type.clone()).collect();
        for e in events {
            let body = envelope(&e);
            let webhook_id = Uuid::new_v4().to_string();
            let outcome = if has_endpoint {
                Outcome::Pending
            } else {
                Outcome::NoEndpoint
            };
            {
                let mut log = lock(&self.inner.events);
                if log.len() >= EVENT_LOG_CAPACITY {
                    log.pop_front();
                }
                log.push_back(EventRecord {
                    webhook_id: webhook_id.clone(),
                    event_type: e.event_type.clone(),
                    body: body.clone(),
                    outcome,
                    attempts: 0,
                });
            }
            if has_endpoint {
                self.inner.pending.send_modify(|n| *n += 1);
                let queued = Queued {
                    webhook_id,
                    event_type: e.event_type,
                    body: body.into(),
                };
                // The worker lives as long as any sender; a send can only fail after shutdown.
                let _ = self.tx.send(Msg::Event(queued));
            }
        }
        types
    }

    /// Every event so far, oldest first.
    pub fn events(&self) -> Vec<EventRecord> {
        lock(&self.inner.events).iter().cloned().collect()
    }

    /// Every HTTP attempt so far, in the order they were made.
    pub fn attempts(&self) -> Vec<Attempt> {
        lock(&self.inner.attempts).clone()
    }

    /// Releases held events and waits until every queued event is delivered, failed or dropped.
    pub async fn settled(&self) {
        let _ = self.tx.send(Msg::Flush);
        let mut rx = self.inner.pending.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

fn keyed(e: Endpoint) -> Result<(Endpoint, Vec<u8>), SigningError> {
    let key = signing::signing_key(&e.secret, e.scheme)?;
    Ok((e, key))
}

/// The compact JSON body: `{type, timestamp, data, api_version}`.
fn envelope(e: &Emitted) -> String {
    #[derive(Serialize)]
    struct Envelope<'a> {
        r#type: &'a str,
        timestamp: String,
        data: &'a serde_json::Value,
        api_version: &'a str,
    }
    let env = Envelope {
        r#type: &e.event_type,
        timestamp: polar_time(e.timestamp),
        data: &e.data,
        api_version: API_VERSION,
    };
    serde_json::to_string(&env).unwrap_or_default()
}

async fn worker(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut held: Vec<Queued> = Vec::new();
    while let Some(msg) = rx.recv().await {
        let event = match msg {
            Msg::Flush => {
                for h in std::mem::take(&mut held) {
                    first_attempt(&inner, h).await;
                }
                continue;
            }
            Msg::Event(e) => e,
        };
        let fault = faults::take(&mut lock(&inner.faults), &event.event_type);
        match fault {
            Some(Fault::Drop) => finish(&inner, &event.webhook_id, Outcome::Dropped),
            Some(Fault::Reorder) => {
                set_outcome(&inner, &event.webhook_id, Outcome::Held);
                held.push(event);
                continue;
            }
            Some(Fault::Delay { ms }) => {
                let inner = inner.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    first_attempt(&inner, event).await;
                });
            }
            Some(Fault::Duplicate) => {
                inner.pending.send_modify(|n| *n += 1);
                first_attempt(&inner, event.clone()).await;
                first_attempt(&inner, event).await;
            }
            None => first_attempt(&inner, event).await,
        }
        for h in std::mem::take(&mut held) {
            first_attempt(&inner, h).await;
        }
    }
}

/// Makes attempt 1 now; on failure hands the event to its own retry task.
async fn first_attempt(inner: &Arc<Inner>, event: Queued) {
    set_outcome(inner, &event.webhook_id, Outcome::Pending);
    if attempt(inner, &event, 1).await {
        finish(inner, &event.webhook_id, Outcome::Delivered);
        return;
    }
    if inner.config.max_attempts <= 1 {
        finish(inner, &event.webhook_id, Outcome::Failed);
        return;
    }
    let inner = inner.clone();
    tokio::spawn(async move {
        for n in 2..=inner.config.max_attempts {
            tokio::time::sleep(backoff(&inner.config, n - 1)).await;
            if attempt(&inner, &event, n).await {
                finish(&inner, &event.webhook_id, Outcome::Delivered);
                return;
            }
        }
        tracing::warn!(
            webhook_id = %event.webhook_id,
            event_type = %event.event_type,
            attempts = inner.config.max_attempts,
            "webhook delivery failed after every attempt"
        );
        finish(&inner, &event.webhook_id, Outcome::Failed);
    });
}

/// The wait after failed attempt `n`.
fn backoff(config: &DeliveryConfig, n: u32) -> Duration {
    let full = config
        .retry_base
        .saturating_mul(2u32.saturating_pow(n))
        .min(config.max_backoff);
    let jitter = rand::rng().random_range(0.5..=1.0);
    full.mul_f64(jitter)
}

/// One signed POST; true on a 2xx answer.
async fn attempt(inner: &Inner, event: &Queued, n: u32) -> bool {
    let Some((endpoint, key)) = lock(&inner.endpoint).clone() else {
        record(inner, event, n, None, Some("no endpoint configured".into()));
        return false;
    };
    let timestamp = if inner.config.simulated_timestamps {
        inner.sim_now.load(Ordering::Relaxed)
    } else {
        chrono::Utc::now().timestamp()
    };
    let signature = signing::sign(&key, &event.webhook_id, timestamp, &event.body);
    let result = inner
        .client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", &event.webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("webhook-api-version", API_VERSION)
        .body(event.body.to_string())
        .send()
        .await;
    match result {
        Ok(resp) => {
            let status = resp.status();
            record(inner, event, n, Some(status.as_u16()), None);
            status.is_success()
        }
        Err(e) => {
            record(inner, event, n, None, Some(e.to_string()));
            false
        }
    }
}

fn record(inner: &Inner, event: &Queued, n: u32, status: Option<u16>, error: Option<String>) {
    if let Some(rec) = lock(&inner.events)
        .iter_mut()
        .rev()
        .find(|r| r.webhook_id == event.webhook_id)
    {
        rec.attempts += 1;
    }
    if let Some(error) = &error {
        tracing::debug!(webhook_id = %event.webhook_id, attempt = n, %error, "webhook attempt failed");
    }
    lock(&inner.attempts).push(Attempt {
        webhook_id: event.webhook_id.clone(),
        event_type: event.event_type.clone(),
        attempt: n,
        status,
        error,
    });
}

fn set_outcome(inner: &Inner, webhook_id: &str, outcome: Outcome) {
    if let Some(rec) = lock(&inner.events)
        .iter_mut()
        .rev()
        .find(|r| r.webhook_id == webhook_id)
    {
        rec.outcome = outcome;
    }
}

fn finish(inner: &Inner, webhook_id: &str, outcome: Outcome) {
    set_outcome(inner, webhook_id, outcome);
    inner.pending.send_modify(|n| *n = n.saturating_sub(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let config = DeliveryConfig {
            retry_base: Duration::from_millis(2000),
            ..DeliveryConfig::default()
        };
        let b1 = backoff(&config, 1);
        assert!(b1 >= Duration::from_millis(2000) && b1 <= Duration::from_millis(4000));
        let b9 = backoff(&config, 9);
        assert!(b9 >= Duration::from_millis(512_000) && b9 <= Duration::from_millis(1_024_000));
        let b20 = backoff(&config, 20);
        assert!(b20 <= Duration::from_secs(20 * 60));
    }
}
