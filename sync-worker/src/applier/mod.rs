//! The applier: applies stored webhook deliveries in the background, in batches.
//!
//! `POST /webhooks/polar` only stores a delivery (`pending`) and hands it to the applier, so
//! Polar gets its answer after one insert however busy the database is. The applier then
//! applies deliveries in batches ([`batch`]): every event of a batch in one transaction, each
//! object under the newer-version rule (so the order of deliveries does not matter), and each
//! affected customer's snapshot rebuilt once for the whole batch.
//!
//! Deliveries go to one of [`LANES`] lanes by their customer, so the lanes' transactions
//! touch different customers and run side by side, while one customer's deliveries are
//! applied one batch at a time. A lane is memory only: the database holds the truth. A
//! delivery no lane applied — its lane was full, the database was down, the process crashed
//! or another replica stored it and stopped — stays `pending`, and the poll, every
//! [`POLL_INTERVAL`], applies pending deliveries older than [`LEFTOVER_AGE`].

mod batch;

pub use batch::{Outcome, apply_stored};

use crate::clock::Clock;
use crate::db;
use crate::ingest::error_chain;
use crate::polar::Event;
use sqlx::PgPool;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tollgate_gate::Catalog;

/// How many lanes apply deliveries side by side.
pub const LANES: usize = 4;

/// Most deliveries applied in one transaction.
pub const BATCH: usize = 256;

/// Most deliveries waiting in one lane: one batch, a few MiB of parsed events, so memory stays
/// flat under a storm. Beyond that, the poll applies them from the database.
const LANE_CAPACITY: usize = BATCH;

/// How often the applier looks for pending deliveries no lane applied.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How old a pending delivery must be before the poll takes it: far longer than a lane takes
/// to apply a batch, so the poll does not compete with the lanes for fresh deliveries.
pub const LEFTOVER_AGE: Duration = Duration::from_secs(5);

/// A stored delivery waiting in a lane.
#[derive(Debug)]
pub struct Queued {
    pub id: i64,
    pub event: Event,
}

/// A handle on the applier; clones share it.
#[derive(Debug, Clone)]
pub struct Applier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    catalog: Arc<Catalog>,
    clock: Clock,
    lanes: Vec<mpsc::Sender<Queued>>,
    /// The lanes' receiving ends, until [`Applier::run_forever`] takes them.
    receivers: Mutex<Vec<mpsc::Receiver<Queued>>>,
    poll: Notify,
    /// Counts the batches committed, so [`Applier::settled`] knows when to look again.
    progress: watch::Sender<u64>,
}

impl Applier {
    pub fn new(pool: PgPool, catalog: Arc<Catalog>, clock: Clock) -> Self {
        let (lanes, receivers) = (0..LANES).map(|_| mpsc::channel(LANE_CAPACITY)).unzip();
        Self {
            inner: Arc::new(Inner {
                pool,
                catalog,
                clock,
                lanes,
                receivers: Mutex::new(receivers),
                poll: Notify::new(),
                progress: watch::Sender::new(0),
            }),
        }
    }

    /// Hands the stored delivery `id` to the lane of its customer.
    pub fn submit(&self, id: i64, event: Event) {
        let Some(object) = &event.object else {
            return;
        };
        let mut hasher = DefaultHasher::new();
        object.customer_key().hash(&mut hasher);
        let lane = (hasher.finish() % LANES as u64) as usize;
        if let Some(sender) = self.inner.lanes.get(lane)
            && sender.try_send(Queued { id, event }).is_err()
        {
            tracing::debug!(event_id = id, "lane full; the poll will apply the delivery");
        }
    }

    /// Waits until no delivery is pending: every delivery stored before the call has been
    /// applied (or has failed and waits for its retry). Needs [`Applier::run_forever`].
    pub async fn settled(&self) {
        let mut progress = self.inner.progress.subscribe();
        loop {
            progress.borrow_and_update();
            match db::webhook_events::any_pending(&self.inner.pool).await {
                Ok(false) => return,
                Ok(true) => {}
                Err(error) => tracing::warn!(error = %error, "cannot read the webhook queue"),
            }
            self.inner.poll.notify_one();
            // The sender lives as long as `self`, so this cannot fail.
            let _ = progress.changed().await;
        }
    }

    /// Runs the lanes and the poll until the task is dropped.
    pub async fn run_forever(self) {
        let receivers = match self.inner.receivers.lock() {
            Ok(mut receivers) => std::mem::take(&mut *receivers),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        // Dropping the set (when this task is dropped) aborts the lanes.
        let mut lanes = tokio::task::JoinSet::new();
        for receiver in receivers {
            lanes.spawn(self.clone().run_lane(receiver));
        }
        self.run_poll().await;
    }

    async fn run_lane(self, mut receiver: mpsc::Receiver<Queued>) {
        let Inner {
            pool,
            catalog,
            clock,
            ..
        } = &*self.inner;
        let mut queued = Vec::with_capacity(BATCH);
        while receiver.recv_many(&mut queued, BATCH).await > 0 {
            let batch = std::mem::take(&mut queued);
            match batch::apply_queued(pool, catalog, clock, batch).await {
                Ok(_) => self.made_progress(),
                // The deliveries stay pending; the poll applies them once the database is back.
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "applying webhooks failed; the poll will retry")
                }
            }
        }
    }

    async fn run_poll(&self) {
        let Inner {
            pool,
            catalog,
            clock,
            ..
        } = &*self.inner;
        loop {
            loop {
                match batch::apply_leftovers(pool, catalog, clock, LEFTOVER_AGE).await {
                    Ok(0) => break,
                    Ok(_) => self.made_progress(),
                    Err(error) => {
                        tracing::warn!(error = %error_chain(&error), "applying webhooks failed; will retry");
                        break;
                    }
                }
            }
            tokio::select! {
                () = self.inner.poll.notified() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    }

    fn made_progress(&self) {
        self.inner.progress.send_modify(|n| *n += 1);
    }
}
