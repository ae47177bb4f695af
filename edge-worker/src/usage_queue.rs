//! The usage queue: producing one event per allowed metered request, sent in batches, and
//! consuming batches into the sync worker's `POST /v1/usage` (see `metering` for the
//! guarantees).

use std::time::Duration;

use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::{Context, Delay, Env, MessageBatch, MessageExt, Queue, Url};

use crate::config::Config;
use crate::isolate;
use crate::metering::{Delivery, UsageBatch, UsageEvent};

/// Binding of the usage queue's producer.
pub const QUEUE_BINDING: &str = "USAGE";
/// How long events gather in the isolate before they are sent as one batch.
pub const GATHER_MS: u64 = 50;
/// The most messages one `sendBatch` takes.
const MAX_SEND_BATCH: usize = 100;
/// Retries of a failed `sendBatch` within one flush (after 200, 400, 800 ms).
const SEND_RETRIES: u32 = 3;
/// The most events an isolate holds while the queue cannot be reached.
const OUTBOX_CAPACITY: usize = 10_000;

#[wasm_bindgen]
extern "C" {
    /// `crypto.randomUUID()`: a v4 UUID from the runtime's CSPRNG.
    #[wasm_bindgen(js_namespace = crypto, js_name = randomUUID)]
    fn random_uuid() -> String;
}

/// A usage event for an allowed request at `now_ms`, with a fresh unique id.
pub fn event(customer: &str, feature: &str, amount: u64, now_ms: i64) -> UsageEvent {
    UsageEvent {
        id: random_uuid(),
        customer: customer.to_owned(),
        feature: feature.to_owned(),
        amount,
        timestamp: tollgate_gate::Timestamp::from_millis(now_ms).to_iso(),
    }
}

/// Keeps an event for the next batch sent to the queue. The first event of a batch schedules
/// its sending (`ctx.wait_until`, so after the answer has gone out); events of the requests
/// that follow within [`GATHER_MS`] join it, so the queue gets one call per batch rather than
/// one per request.
pub fn record(env: &Env, ctx: &Context, event: UsageEvent) {
    let schedule = isolate::with(|s| {
        if s.usage_outbox.len() >= OUTBOX_CAPACITY {
            worker::console_error!("usage outbox full: event {} dropped", event.id);
            return false;
        }
        s.usage_outbox.push(event);
        !std::mem::replace(&mut s.usage_flush_scheduled, true)
    });
    if schedule {
        ctx.wait_until(flush(env.clone()));
    }
}

async fn flush(env: Env) {
    Delay::from(Duration::from_millis(GATHER_MS)).await;
    let events = isolate::with(|s| {
        s.usage_flush_scheduled = false;
        std::mem::take(&mut s.usage_outbox)
    });
    let queue = match env.queue(QUEUE_BINDING) {
        Ok(queue) => queue,
        Err(e) => {
            worker::console_error!("usage queue binding {QUEUE_BINDING}: {e}");
            return restore(events);
        }
    };
    let mut sent = 0;
    for chunk in events.chunks(MAX_SEND_BATCH) {
        if let Err(e) = send_with_retries(&queue, chunk).await {
            worker::console_error!("usage events not enqueued, kept for the next batch: {e}");
            break;
        }
        sent += chunk.len();
    }
    restore(events.into_iter().skip(sent).collect());
}

async fn send_with_retries(queue: &Queue, events: &[UsageEvent]) -> worker::Result<()> {
    let mut attempt = 0;
    loop {
        match queue.send_batch(events.to_vec()).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= SEND_RETRIES => return Err(e),
            Err(_) => {
                attempt += 1;
                Delay::from(Duration::from_millis(100 << attempt)).await;
            }
        }
    }
}

/// Puts unsent events back at the head of the outbox; the next request sends them.
fn restore(mut unsent: Vec<UsageEvent>) {
    if unsent.is_empty() {
        return;
    }
    isolate::with(|s| {
        unsent.append(&mut s.usage_outbox);
        s.usage_outbox = unsent;
    });
}

/// Posts a batch to the sync worker: acknowledged on a 2xx, otherwise retried by the queue.
/// A message that is not a usage event can never be delivered: it is logged and acknowledged
/// rather than retried forever.
pub async fn deliver(batch: MessageBatch<UsageEvent>, config: &Config) -> worker::Result<()> {
    let mut events = Vec::new();
    let mut messages = Vec::new();
    for message in batch.raw_iter() {
        match decode(&message.body()) {
            Some(event) => {
                events.push(event);
                messages.push(message);
            }
            None => {
                worker::console_error!(
                    "queue message {} is not a usage event: dropped",
                    message.id()
                );
                message.ack();
            }
        }
    }
    if events.is_empty() {
        return Ok(());
    }
    let delivery = match post(&events, config).await {
        Ok(status) => Delivery::from_status(status),
        Err(e) => {
            worker::console_error!("usage batch of {} not delivered: {e}", events.len());
            Delivery::Retry
        }
    };
    for message in &messages {
        match delivery {
            Delivery::Ack => message.ack(),
            Delivery::Retry => message.retry(),
        }
    }
    Ok(())
}

fn decode(body: &JsValue) -> Option<UsageEvent> {
    let text = worker::js_sys::JSON::stringify(body).ok()?.as_string()?;
    serde_json::from_str(&text).ok()
}

async fn post(events: &[UsageEvent], config: &Config) -> worker::Result<u16> {
    let url = config
        .usage_url
        .as_deref()
        .ok_or_else(|| worker::Error::RustError("TOLLGATE_USAGE_URL is not set".into()))?;
    let body = serde_json::to_string(&UsageBatch { events })?;
    let response = crate::sync_api::post_json(config, Url::parse(url)?.as_str(), body).await?;
    let status = response.status_code();
    if Delivery::from_status(status) == Delivery::Retry {
        worker::console_warn!("the usage endpoint answered {status}; the batch will be retried");
    }
    Ok(status)
}
