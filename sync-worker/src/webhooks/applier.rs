//! The applier: applies stored webhook deliveries in the background, in batches.
//!
//! `POST /webhooks/polar` only stores a delivery (`pending`) and hands it to the applier, so
//! Polar gets its answer after one insert however busy the database is. The applier then
//! applies deliveries in batches ([`super::batch`]): every event of a batch in one transaction, each
//! object under the newer-version rule (so the order of deliveries does not matter), and each
//! affected customer's snapshot rebuilt once for the whole batch.
//!
//! Deliveries go to one of [`LANES`] lanes by their customer, so the lanes' transactions
//! touch different customers and run side by side, while one customer's deliveries are
//! applied one batch at a time. A lane hands deliveries over in memory while it keeps up; the
//! database holds the truth, each pending delivery with its lane. A lane that fell behind (its
//! queue was full, the database was down, the service just started) catches up from the
//! database, oldest first. What no lane of this replica will take — deliveries another replica
//! stored before it stopped — the poll applies, every [`POLL_INTERVAL`], once they are older
//! than [`LEFTOVER_AGE`].

use super::batch::{self, BATCH, Queued};
use crate::clock::Clock;
use crate::db::{self, webhook_events::Backlog};
use crate::error::error_chain;
use crate::polar::Event;
use sqlx::PgPool;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tollgate_gate::Catalog;

/// How many lanes apply deliveries side by side.
pub(crate) const LANES: usize = 4;

/// Most deliveries waiting in one lane: one batch, a few MiB of parsed events, so memory stays
/// flat under a storm. Beyond that, the lane catches up from the database.
const LANE_CAPACITY: usize = BATCH;

/// How often the applier looks for pending deliveries no lane applied, and how long a lane
/// waits before catching up again after a database error.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How old a pending delivery must be before the poll takes it: far longer than a lane takes
/// to apply a batch, so the poll does not compete with the lanes for fresh deliveries.
pub(crate) const LEFTOVER_AGE: Duration = Duration::from_secs(5);

/// The lane of a delivery that carries an object: one customer's deliveries share a lane.
pub(crate) fn lane_of(event: &Event) -> Option<i16> {
    let object = event.object.as_ref()?;
    let mut hasher = DefaultHasher::new();
    object.customer_key().hash(&mut hasher);
    i16::try_from(hasher.finish() % LANES as u64).ok()
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
    /// Per lane: some of its pending deliveries are in the database only.
    behind: Vec<AtomicBool>,
    /// The lanes' receiving ends, until [`Applier::run_forever`] takes them.
    receivers: Mutex<Vec<mpsc::Receiver<Queued>>>,
    poll: Notify,
    /// Counts the batches committed, so [`Applier::settled`] knows when to look again.
    progress: watch::Sender<u64>,
    /// How many lanes have applied what a previous run left pending.
    caught_up: watch::Sender<usize>,
}

impl Applier {
    pub(crate) fn new(pool: PgPool, catalog: Arc<Catalog>, clock: Clock) -> Self {
        let (lanes, receivers) = (0..LANES).map(|_| mpsc::channel(LANE_CAPACITY)).unzip();
        Self {
            inner: Arc::new(Inner {
                pool,
                catalog,
                clock,
                lanes,
                // Deliveries a previous run stored but did not apply wait in every lane.
                behind: (0..LANES).map(|_| AtomicBool::new(true)).collect(),
                receivers: Mutex::new(receivers),
                poll: Notify::new(),
                progress: watch::Sender::new(0),
                caught_up: watch::Sender::new(0),
            }),
        }
    }

    /// Hands the stored delivery `id` to the lane of its customer.
    pub(crate) fn submit(&self, id: i64, event: Event) {
        let Some(lane) = lane_of(&event).map(|lane| usize::from(lane.unsigned_abs())) else {
            return;
        };
        if let (Some(sender), Some(behind)) =
            (self.inner.lanes.get(lane), self.inner.behind.get(lane))
            && sender.try_send(Queued { id, event }).is_err()
        {
            behind.store(true, Ordering::SeqCst);
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

    /// Waits until every lane has applied what a previous run left pending (tests start from
    /// there, so that a lane's first catch-up cannot take their deliveries). Needs
    /// [`Applier::run_forever`].
    pub async fn caught_up(&self) {
        let mut caught_up = self.inner.caught_up.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = caught_up.wait_for(|lanes| *lanes >= LANES).await;
    }

    /// Runs the lanes and the poll until the task is dropped.
    pub(crate) async fn run_forever(self) {
        let receivers = match self.inner.receivers.lock() {
            Ok(mut receivers) => std::mem::take(&mut *receivers),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        // Dropping the set (when this task is dropped) aborts the lanes.
        let mut lanes = tokio::task::JoinSet::new();
        for (lane, receiver) in (0..).zip(receivers) {
            lanes.spawn(self.clone().run_lane(lane, receiver));
        }
        self.run_poll().await;
    }

    async fn run_lane(self, lane: i16, mut receiver: mpsc::Receiver<Queued>) {
        let Inner {
            pool,
            catalog,
            clock,
            behind,
            ..
        } = &*self.inner;
        let Some(behind) = behind.get(usize::from(lane.unsigned_abs())) else {
            return;
        };
        let mut queued = Vec::with_capacity(BATCH);
        let mut starting = true;
        loop {
            if behind.swap(false, Ordering::SeqCst) {
                // The database holds every pending delivery of the lane, oldest first.
                match batch::apply_backlog(pool, catalog, clock, Backlog::Lane(lane)).await {
                    Ok(0) if std::mem::take(&mut starting) => {
                        self.inner.caught_up.send_modify(|lanes| *lanes += 1);
                    }
                    Ok(0) => {}
                    Ok(_) => {
                        self.made_progress();
                        behind.store(true, Ordering::SeqCst);
                    }
                    Err(error) => {
                        tracing::warn!(lane, error = %error_chain(&error), "applying webhooks failed; will retry");
                        behind.store(true, Ordering::SeqCst);
                        tokio::time::sleep(POLL_INTERVAL).await;
                    }
                }
                continue;
            }
            if receiver.recv_many(&mut queued, BATCH).await == 0 {
                return;
            }
            let batch = std::mem::take(&mut queued);
            match batch::apply_queued(pool, catalog, clock, batch).await {
                Ok(_) => self.made_progress(),
                Err(error) => {
                    tracing::warn!(lane, error = %error_chain(&error), "applying webhooks failed; will retry");
                    behind.store(true, Ordering::SeqCst);
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
                let leftovers = Backlog::OlderThan(LEFTOVER_AGE);
                match batch::apply_backlog(pool, catalog, clock, leftovers).await {
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
