//! The counts the storm prints (`cargo test … -- --nocapture` shows them).

use super::deliveries::Tally;
use super::lifecycles::Steps;
use super::snapshots::Checked;
use super::stored::Webhooks;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Everything worth counting, gathered along the way.
pub struct Report<'a> {
    pub steps: &'a Steps,
    pub emitted: usize,
    pub deliveries: usize,
    pub connections: usize,
    pub stormed: Duration,
    pub tally: &'a Tally,
    pub kills: usize,
    pub postgres_restarts: usize,
    pub webhooks: &'a Webhooks,
    pub settled: Duration,
    pub polar: String,
    pub drift: usize,
    pub snapshot_problems: usize,
    pub reconcile: &'a str,
    pub repaired: i64,
    pub snapshots: &'a Checked,
    pub outbox: i64,
    pub elapsed: Duration,
}

impl Report<'_> {
    pub fn print(&self) {
        let tally = self.tally;
        let count = |n: &std::sync::atomic::AtomicUsize| n.load(Ordering::Relaxed);
        let receipts = tally.receipts.lock().unwrap().clone();
        let duplicates = self.deliveries - self.emitted;
        let found_stored = receipts
            .get("duplicate")
            .unwrap_or(&0)
            .saturating_sub(duplicates);
        println!("  lifecycle steps      {:?}", self.steps);
        println!("  webhooks emitted     {}", self.emitted);
        println!(
            "  deliveries           {} ({duplicates} duplicates) over {} connections in {:.1} s",
            self.deliveries,
            self.connections,
            self.stormed.as_secs_f64()
        );
        println!(
            "  attempts             {} ({} deliveries retried: {} attempts unanswered, {} answered 5xx; {} refused 4xx)",
            count(&tally.attempts),
            count(&tally.retried),
            count(&tally.unanswered),
            count(&tally.server_errors),
            tally.rejected.lock().unwrap().len()
        );
        println!(
            "  receipts             {receipts:?}: {found_stored} retries found their delivery already stored"
        );
        println!(
            "  crashes              {} SIGKILLs of tollgate serve, {} PostgreSQL crash restarts",
            self.kills, self.postgres_restarts
        );
        println!(
            "  stored webhooks      {} {:?}, {} applied on the service's own retry; all applied {:.1} s after the storm",
            self.webhooks.rows,
            self.webhooks.statuses,
            self.webhooks.retried,
            self.settled.as_secs_f64()
        );
        println!("  Polar's objects      {}", self.polar);
        println!(
            "  before the reconcile {} objects differ, {} snapshot problems",
            self.drift, self.snapshot_problems
        );
        println!("  reconcile            {}", self.reconcile);
        println!("  repaired (audited)   {} objects", self.repaired);
        println!(
            "  snapshots            {} revisions of {} customers, {} outbox rows; current plans {:?}",
            self.snapshots.revisions, self.snapshots.customers, self.outbox, self.snapshots.plans
        );
        println!("  elapsed              {:.1} s", self.elapsed.as_secs_f64());
    }
}

/// The first few lines of a long list of problems.
pub fn first(problems: &[String]) -> String {
    let mut shown = problems.iter().take(20).cloned().collect::<Vec<_>>();
    if problems.len() > shown.len() {
        shown.push(format!("… and {} more", problems.len() - shown.len()));
    }
    shown.join("\n")
}
