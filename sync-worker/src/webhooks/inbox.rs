//! The inbox: verified deliveries stored first, answered at once, applied in the background.
//!
//! A verified delivery is inserted keyed by its `webhook-id` with `ON CONFLICT DO NOTHING`:
//! as `pending`, then handed to the applier ([`super::applier`]), or as `ignored` for a type
//! tollgate does not apply. No row means a duplicate (an earlier or concurrent delivery of the
//! same event holds the unique key). The answer goes out once the insert has committed, so a
//! crash before it makes Polar send the delivery again, and one after it loses nothing: the
//! applier finds the pending row.
//!
//! Concurrent requests share inserts: whatever arrived while the previous insert ran goes into
//! the next one, so under load many deliveries share one statement, one commit and one pool
//! round trip, and when idle each is stored at once.

use super::applier;
use crate::db::{
    self,
    webhook_events::{NewDelivery, Status},
};
use crate::polar::Event;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A delivery the inbox stored: its row and its first status, `Pending` (the applier takes
/// it) or `Ignored` (a type tollgate does not apply). `None` from the inbox is a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub id: i64,
    pub status: Status,
}

/// The row a verified delivery is stored as (`payload`: the body exactly as received).
fn new_delivery(webhook_id: &str, event: &Event, payload: &str) -> NewDelivery {
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

fn stored(delivery: &NewDelivery, id: Option<i64>) -> Option<Stored> {
    id.map(|id| Stored {
        id,
        status: delivery.status,
    })
}

async fn store_one(pool: &PgPool, delivery: &NewDelivery) -> Result<Option<Stored>, sqlx::Error> {
    let ids = db::webhook_events::insert(pool, std::slice::from_ref(delivery)).await?;
    Ok(stored(delivery, ids.first().copied().flatten()))
}

/// Stores deliveries, concurrent requests' together (see the module's documentation).
#[derive(Debug, Clone)]
pub struct Inbox {
    requests: mpsc::Sender<Request>,
}

#[derive(Debug)]
struct Request {
    delivery: NewDelivery,
    reply: oneshot::Sender<Result<Option<Stored>, Arc<sqlx::Error>>>,
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

    /// Stores one verified delivery once its group has committed; `None` for a duplicate.
    pub async fn receive(
        &self,
        webhook_id: &str,
        event: &Event,
        payload: &str,
    ) -> Result<Option<Stored>, InboxError> {
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
) -> Vec<Result<Option<Stored>, Arc<sqlx::Error>>> {
    let error = match db::webhook_events::insert(pool, deliveries).await {
        Ok(ids) => {
            return deliveries
                .iter()
                .zip(ids)
                .map(|(delivery, id)| Ok(stored(delivery, id)))
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
