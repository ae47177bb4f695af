//! The pace of the service's background loops.

use std::future::Future;
use std::time::Duration;
use tokio::time::MissedTickBehavior;

/// Runs `pass` at once and then every `period` until the task is dropped. A pass that takes
/// longer than `period` delays the next one instead of causing a burst of catch-up passes.
///
/// `pass` is a closure returning a future rather than an async closure: an async closure's
/// futures borrow the closure itself, and the compiler cannot yet prove such futures `Send`,
/// which `tokio::spawn` needs. Callers move into it references to what their task owns.
pub(crate) async fn every<Pass, Run>(period: Duration, mut pass: Pass)
where
    Pass: FnMut() -> Run,
    Run: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        pass().await;
    }
}
