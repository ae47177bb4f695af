//! Webhook ingestion: store first, answer at once, apply in the background.
//!
//! A verified delivery is inserted keyed by its `webhook-id` with `ON CONFLICT DO NOTHING`:
//! as `pending`, then handed to the applier ([`crate::applier`]), or as `ignored` for a type
//! tollgate does not apply. No row means a duplicate (an earlier or concurrent delivery of the
//! same event holds the unique key). The answer goes out once the insert has committed, so a
//! crash before it makes Polar send the delivery again, and one after it loses nothing: the
//! applier finds the pending row. Concurrent requests share inserts through the [`Inbox`].
//!
//! `tollgate webhooks replay` re-applies stored deliveries by hand. Re-applying is always
//! safe: every upsert keeps the newest version of each object.

use crate::applier::{self, Outcome};
use crate::db::{
    self,
    webhook_events::{NewDelivery, Status},
};
use crate::polar::Event;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tollgate_gate::Catalog;

/// What became of one delivery when it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Stored as the delivery `id`, for the applier to apply shortly.
    Accepted(i64),
    /// Stored for the record; a type tollgate does not apply.
    Ignored,
    /// Already stored by an earlier delivery; nothing done.
    Duplicate,
}

impl Received {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted(_) => "accepted",
            Self::Ignored => "ignored",
            Self::Duplicate => "duplicate",
        }
    }
}

/// The row a verified delivery is stored as (`payload`: the body exactly as received).
pub fn new_delivery(webhook_id: &str, event: &Event, payload: &str) -> NewDelivery {
    NewDelivery {
        webhook_id: webhook_id.to_owned(),
        event_type: event.event_type.clone(),
        event_timestamp: event.timestamp,
        payload: payload.to_owned(),
        status: if event.object.is_some() {
            Status::Pending
        } else {
            Status::Ignored
        },
        lane: applier::lane_of(event),
    }
}

fn received(delivery: &NewDelivery, stored: Option<i64>) -> Received {
    match stored {
        None => Received::Duplicate,
        Some(id) if delivery.status == Status::Pending => Received::Accepted(id),
        Some(_) => Received::Ignored,
    }
}

/// Stores one verified delivery (`payload`: the body exactly as received).
#[tracing::instrument(skip_all, fields(event_type = %event.event_type))]
pub async fn receive(
    pool: &PgPool,
    webhook_id: &str,
    event: &Event,
    payload: &str,
) -> Result<Received, sqlx::Error> {
    store_one(pool, &new_delivery(webhook_id, event, payload)).await
}

async fn store_one(pool: &PgPool, delivery: &NewDelivery) -> Result<Received, sqlx::Error> {
    let stored = db::webhook_events::insert(pool, std::slice::from_ref(delivery)).await?;
    Ok(received(delivery, stored.first().copied().flatten()))
}

/// Stores deliveries for concurrent requests together: whatever arrived while the previous
/// insert ran goes into the next one, so under load many deliveries share one statement, one
/// commit and one pool round trip, and when idle each is stored at once.
#[derive(Debug, Clone)]
pub struct Inbox {
    requests: mpsc::Sender<Request>,
}

#[derive(Debug)]
struct Request {
    delivery: NewDelivery,
    reply: oneshot::Sender<Result<Received, Arc<sqlx::Error>>>,
}

/// Most deliveries in one insert.
const GROUP: usize = 128;
/// Inserts under way at once: one runs while the next group gathers.
const WRITERS: usize = 2;

impl Inbox {
    /// Starts the writers; they stop when every clone of the inbox is dropped.
    pub fn start(pool: PgPool) -> Self {
        let (requests, receiver) = mpsc::channel(GROUP * WRITERS * 4);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        for _ in 0..WRITERS {
            tokio::spawn(write(pool.clone(), Arc::clone(&receiver)));
        }
        Self { requests }
    }

    /// Stores one verified delivery once its group has committed.
    pub async fn receive(
        &self,
        webhook_id: &str,
        event: &Event,
        payload: &str,
    ) -> Result<Received, InboxError> {
        let (reply, answer) = oneshot::channel();
        let delivery = new_delivery(webhook_id, event, payload);
        self.requests
            .send(Request { delivery, reply })
            .await
            .map_err(|_| InboxError::Stopped)?;
        answer
            .await
            .map_err(|_| InboxError::Stopped)?
            .map_err(InboxError::Database)
    }
}

async fn write(pool: PgPool, receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Request>>>) {
    let mut group = Vec::with_capacity(GROUP);
    loop {
        if receiver.lock().await.recv_many(&mut group, GROUP).await == 0 {
            return;
        }
        let (deliveries, replies): (Vec<_>, Vec<_>) =
            group.drain(..).map(|r| (r.delivery, r.reply)).unzip();
        let results = store_group(&pool, &deliveries).await;
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}

/// Stores a group in one statement; if that fails, each delivery on its own, so that one
/// delivery the database refuses does not fail the others with it.
async fn store_group(
    pool: &PgPool,
    deliveries: &[NewDelivery],
) -> Vec<Result<Received, Arc<sqlx::Error>>> {
    let error = match db::webhook_events::insert(pool, deliveries).await {
        Ok(stored) => {
            return deliveries
                .iter()
                .zip(stored)
                .map(|(delivery, stored)| Ok(received(delivery, stored)))
                .collect();
        }
        Err(error) => Arc::new(error),
    };
    if deliveries.len() == 1 {
        return vec![Err(error)];
    }
    let mut results = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        results.push(store_one(pool, delivery).await.map_err(Arc::new));
    }
    results
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    #[error("storing the delivery failed: {0}")]
    Database(#[source] Arc<sqlx::Error>),
    #[error("the service is stopping")]
    Stopped,
}

/// Re-applies the stored delivery `webhook_id` by hand and audits it. `None` when no delivery
/// has that id.
pub async fn replay(
    pool: &PgPool,
    catalog: &Catalog,
    webhook_id: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<Outcome>, ReplayError> {
    let mut tx = pool.begin().await?;
    let Some((id, payload)) = db::webhook_events::lock_by_webhook_id(&mut tx, webhook_id).await?
    else {
        return Ok(None);
    };
    let outcome = applier::apply_stored(&mut tx, catalog, id, &payload, now).await?;
    let details = serde_json::json!({ "outcome": outcome.as_str() });
    db::audit::record(&mut tx, actor, "webhook.replay", webhook_id, &details).await?;
    tx.commit().await?;
    Ok(Some(outcome))
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// An error and its causes on one line, for the `last_error` column and logs.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}
