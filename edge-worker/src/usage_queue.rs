//! The usage queue: producing one event per allowed metered request, and consuming batches
//! into the sync worker's `POST /v1/usage` (see `metering` for the guarantees).

use wasm_bindgen::prelude::wasm_bindgen;
use worker::{Env, Fetch, Headers, MessageBatch, Method, RequestInit, Url};

use crate::config::Config;
use crate::metering::{Delivery, UsageBatch, UsageEvent};

/// Binding of the usage queue's producer.
pub const QUEUE_BINDING: &str = "USAGE";

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

/// Enqueues an event. Called through `ctx.wait_until`, after the answer has gone out.
pub async fn send(env: Env, event: UsageEvent) {
    let result = match env.queue(QUEUE_BINDING) {
        Ok(queue) => queue.send(&event).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        worker::console_error!("usage event {} not enqueued: {e}", event.id);
    }
}

/// Posts a batch to the sync worker: acknowledged on a 2xx, otherwise retried by the queue.
pub async fn deliver(batch: MessageBatch<UsageEvent>, config: &Config) -> worker::Result<()> {
    let messages = batch.messages()?;
    let events: Vec<UsageEvent> = messages.iter().map(|m| m.body().clone()).collect();
    let delivery = match post(&events, config).await {
        Ok(status) => Delivery::from_status(status),
        Err(e) => {
            worker::console_error!("usage batch of {} not delivered: {e}", events.len());
            Delivery::Retry
        }
    };
    match delivery {
        Delivery::Ack => batch.ack_all(),
        Delivery::Retry => batch.retry_all(),
    }
    Ok(())
}

async fn post(events: &[UsageEvent], config: &Config) -> worker::Result<u16> {
    let url = config
        .usage_url
        .as_deref()
        .ok_or_else(|| worker::Error::RustError("TOLLGATE_USAGE_URL is not set".into()))?;
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    if let Some(token) = &config.usage_token {
        headers.set("Authorization", &format!("Bearer {token}"))?;
    }
    let body = serde_json::to_string(&UsageBatch { events })?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let request = worker::Request::new_with_init(Url::parse(url)?.as_str(), &init)?;
    let response = Fetch::Request(request).send().await?;
    let status = response.status_code();
    if Delivery::from_status(status) == Delivery::Retry {
        worker::console_warn!("the usage endpoint answered {status}; the batch will be retried");
    }
    Ok(status)
}
