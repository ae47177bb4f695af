//! The job scheduler: each job once per tick, across every replica.
//!
//! A job has a cadence (every 10 minutes, daily at 02:00 UTC, weekly, monthly). Its *tick* at
//! time `now` is the latest instant at or before `now` that the cadence names — ticks are
//! aligned to the Unix epoch or the calendar, so every replica computes the same tick without
//! talking to the others. Every replica polls its jobs (every [`POLL`]) and, for a job whose
//! current tick has not run, tries to claim it:
//!
//! ```sql
//! INSERT INTO job_runs (job, tick, …) VALUES ($1, $2, …) ON CONFLICT (job, tick) DO NOTHING
//! ```
//!
//! The primary key `(job, tick)` lets exactly one insert succeed; that replica runs the job and
//! then records its end, outcome, counts and error on the same row. The others see no row
//! returned and skip it. No lease or clock agreement is needed beyond computing the same tick.
//!
//! Consequences worth knowing:
//! - Missed ticks are not replayed one by one: after downtime, the latest tick runs once (the
//!   daily reconcile of 02:00 runs at start-up if it has not run today).
//! - A replica that dies mid-run leaves its row unfinished; that tick is not retried (the next
//!   tick is), and the health check reports runs unfinished for too long.
//! - Within a process a job never overlaps itself: a job still running when its next tick
//!   comes is skipped for that tick. Every job is idempotent, so an overlap across replicas (a
//!   run longer than its cadence) is slow, never wrong.
//!
//! Runs started by hand (`tollgate sync …`, `tollgate reconcile`) are recorded in the same
//! table with their start time as the tick.

use super::Deps;
use chrono::{DateTime, Datelike as _, Duration, NaiveTime, TimeZone as _, Utc, Weekday};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

/// How often a replica looks for due jobs.
pub(crate) const POLL: std::time::Duration = std::time::Duration::from_secs(15);

/// When a job is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cadence {
    /// Every `period`, aligned to the Unix epoch (every 10 min: :00, :10, :20 …).
    Every(Duration),
    /// Every day at this UTC time.
    Daily(NaiveTime),
    /// Every week on this day at this UTC time.
    Weekly(Weekday, NaiveTime),
    /// Every month on this day (1–28) at this UTC time.
    Monthly(u32, NaiveTime),
}

impl Cadence {
    pub(crate) fn minutes(minutes: i64) -> Self {
        Self::Every(Duration::minutes(minutes))
    }

    pub(crate) fn hours(hours: i64) -> Self {
        Self::Every(Duration::hours(hours))
    }

    /// The latest instant at or before `now` when the job is due.
    pub(crate) fn tick(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match *self {
            Self::Every(period) => {
                let period_us = period.num_microseconds().unwrap_or(1).max(1);
                let now_us = now.timestamp_micros();
                DateTime::from_timestamp_micros(now_us - now_us.rem_euclid(period_us))
                    .unwrap_or(now)
            }
            Self::Daily(at) => {
                let today = now.date_naive().and_time(at).and_utc();
                if today <= now {
                    today
                } else {
                    today - Duration::days(1)
                }
            }
            Self::Weekly(day, at) => {
                let back =
                    (7 + now.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
                let candidate = (now.date_naive() - Duration::days(i64::from(back)))
                    .and_time(at)
                    .and_utc();
                if candidate <= now {
                    candidate
                } else {
                    candidate - Duration::days(7)
                }
            }
            Self::Monthly(day, at) => {
                let day = day.clamp(1, 28);
                let this_month = Utc
                    .with_ymd_and_hms(now.year(), now.month(), day, 0, 0, 0)
                    .single()
                    .map(|d| d.date_naive().and_time(at).and_utc());
                match this_month {
                    Some(t) if t <= now => t,
                    _ => {
                        let (year, month) = if now.month() == 1 {
                            (now.year() - 1, 12)
                        } else {
                            (now.year(), now.month() - 1)
                        };
                        Utc.with_ymd_and_hms(year, month, day, 0, 0, 0)
                            .single()
                            .map_or(now, |d| d.date_naive().and_time(at).and_utc())
                    }
                }
            }
        }
    }
}

/// How a run ended, when it did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    /// It did its work; `counts` says how much (a JSON object).
    Succeeded(Value),
    /// It had nothing to do here (e.g. no Polar token is configured); `reason` says why.
    Skipped(String),
}

/// The future a job's run returns.
pub(crate) type RunFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Finished>> + Send + 'a>>;

/// What a job runs: `run_once(&deps, now)`.
pub(crate) type RunFn = Arc<dyn for<'a> Fn(&'a Deps, DateTime<Utc>) -> RunFuture<'a> + Send + Sync>;

/// A scheduled job.
#[derive(Clone)]
pub(crate) struct Job {
    pub(crate) name: &'static str,
    pub(crate) cadence: Cadence,
    pub(crate) run: RunFn,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("name", &self.name)
            .field("cadence", &self.cadence)
            .finish_non_exhaustive()
    }
}

impl Job {
    pub(crate) fn new(
        name: &'static str,
        cadence: Cadence,
        run: impl for<'a> Fn(&'a Deps, DateTime<Utc>) -> RunFuture<'a> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            cadence,
            run: Arc::new(run),
        }
    }
}

/// A run this replica claimed and finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    pub job: &'static str,
    pub tick: DateTime<Utc>,
    pub outcome: &'static str,
}

/// Runs jobs on their cadence; one per replica.
#[derive(Debug)]
pub struct Scheduler {
    deps: Deps,
    jobs: Vec<Job>,
    runner: String,
    running: Mutex<HashSet<&'static str>>,
    /// The latest tick of each job this replica has tried to claim, so that a poll within the
    /// same tick does not touch the database.
    seen: Mutex<HashMap<&'static str, DateTime<Utc>>>,
}

impl Scheduler {
    pub(crate) fn new(deps: Deps, jobs: Vec<Job>) -> Self {
        let runner = format!("pid{}-{:08x}", std::process::id(), rand::random::<u32>());
        Self {
            deps,
            jobs,
            runner,
            running: Mutex::new(HashSet::new()),
            seen: Mutex::new(HashMap::new()),
        }
    }

    pub fn deps(&self) -> &Deps {
        &self.deps
    }

    /// Claims and runs, concurrently, every job whose tick at `now` no replica has claimed;
    /// returns the runs this replica made once they have finished.
    pub async fn run_due(&self, now: DateTime<Utc>) -> Vec<Ran> {
        let runs = self.jobs.iter().map(|job| self.run_if_due(job, now));
        let mut ran = Vec::new();
        for run in join_all(runs).await.into_iter().flatten() {
            ran.push(run);
        }
        ran
    }

    /// Polls every [`POLL`] until the task is dropped, each job in its own task so that a long
    /// reconcile does not hold up the health check.
    pub(crate) async fn run_forever(self: Arc<Self>) {
        let this = &self;
        crate::pace::every(POLL, move || async move {
            let now = this.deps.clock.now();
            for index in 0..this.jobs.len() {
                let scheduler = Arc::clone(this);
                tokio::spawn(async move {
                    if let Some(job) = scheduler.jobs.get(index) {
                        scheduler.run_if_due(job, now).await;
                    }
                });
            }
        })
        .await
    }

    /// Claims `job`'s tick at `now` and runs it, unless another replica claimed it or this
    /// process is still running the job.
    async fn run_if_due(&self, job: &Job, now: DateTime<Utc>) -> Option<Ran> {
        if !self.lock_running().insert(job.name) {
            return None;
        }
        let ran = self.claim_and_run(job, now).await;
        self.lock_running().remove(job.name);
        ran
    }

    async fn claim_and_run(&self, job: &Job, now: DateTime<Utc>) -> Option<Ran> {
        let tick = job.cadence.tick(now);
        if self.seen_lock().get(job.name) == Some(&tick) {
            return None;
        }
        let claimed = runs::claim(
            &self.deps.pool,
            job.name,
            tick,
            "schedule",
            &self.runner,
            now,
        )
        .await;
        if claimed.is_ok() {
            self.seen_lock().insert(job.name, tick);
        }
        match claimed {
            Ok(true) => {}
            Ok(false) => return None,
            Err(error) => {
                tracing::warn!(job = job.name, error = %error, "could not claim a job run");
                return None;
            }
        }
        let outcome = execute(&self.deps, job, tick, now).await;
        Some(Ran {
            job: job.name,
            tick,
            outcome,
        })
    }

    fn seen_lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, DateTime<Utc>>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashSet<&'static str>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs a claimed job and records how it ended; returns the outcome.
async fn execute(deps: &Deps, job: &Job, tick: DateTime<Utc>, now: DateTime<Utc>) -> &'static str {
    tracing::info!(job = job.name, tick = %tick, "job started");
    let result = (job.run)(deps, now).await;
    let outcome = runs::outcome_of(&result);
    crate::metrics::job_run(job.name, outcome);
    match &result {
        Ok(Finished::Succeeded(counts)) => {
            tracing::info!(job = job.name, counts = %counts, "job succeeded");
        }
        Ok(Finished::Skipped(reason)) => tracing::info!(job = job.name, reason, "job skipped"),
        Err(error) => tracing::error!(job = job.name, error = format!("{error:#}"), "job failed"),
    }
    if let Err(error) = runs::finish(&deps.pool, job.name, tick, deps.clock.now(), &result).await {
        tracing::warn!(job = job.name, error = %error, "could not record the end of a job run");
    }
    outcome
}

/// Awaits every future concurrently, in order.
async fn join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// `job_runs` rows written as a job ends.
pub(crate) mod runs {
    use super::Finished;
    use crate::db::job_runs::{self, Finish};
    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};
    use sqlx::PgPool;

    pub(crate) use job_runs::claim;

    pub(crate) fn outcome_of(result: &anyhow::Result<Finished>) -> &'static str {
        match result {
            Ok(Finished::Succeeded(_)) => "succeeded",
            Ok(Finished::Skipped(_)) => "skipped",
            Err(_) => "failed",
        }
    }

    /// Records the end of the run `(job, tick)`.
    pub(crate) async fn finish(
        pool: &PgPool,
        job: &str,
        tick: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        result: &anyhow::Result<Finished>,
    ) -> Result<(), sqlx::Error> {
        let (counts, error) = match result {
            Ok(Finished::Succeeded(counts)) => (counts.clone(), None),
            Ok(Finished::Skipped(reason)) => (json!({ "reason": reason }), None),
            Err(error) => (
                Value::Object(Default::default()),
                Some(format!("{error:#}")),
            ),
        };
        let outcome = outcome_of(result);
        let finish = Finish {
            outcome,
            counts,
            error,
        };
        job_runs::finish(pool, job, tick, finished_at, finish).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn ticks_are_the_latest_due_instant() {
        let now = at("2026-11-25T10:17:42Z");
        assert_eq!(Cadence::minutes(10).tick(now), at("2026-11-25T10:10:00Z"));
        assert_eq!(Cadence::hours(6).tick(now), at("2026-11-25T06:00:00Z"));
        let two = NaiveTime::from_hms_opt(2, 0, 0).unwrap();
        assert_eq!(Cadence::Daily(two).tick(now), at("2026-11-25T02:00:00Z"));
        assert_eq!(
            Cadence::Daily(two).tick(at("2026-11-25T01:59:59Z")),
            at("2026-11-24T02:00:00Z")
        );
        // 2026-11-25 is a Wednesday.
        assert_eq!(
            Cadence::Weekly(Weekday::Sun, two).tick(now),
            at("2026-11-22T02:00:00Z")
        );
        assert_eq!(
            Cadence::Weekly(Weekday::Wed, two).tick(now),
            at("2026-11-25T02:00:00Z")
        );
        assert_eq!(
            Cadence::Monthly(1, two).tick(now),
            at("2026-11-01T02:00:00Z")
        );
        assert_eq!(
            Cadence::Monthly(1, two).tick(at("2026-01-01T01:00:00Z")),
            at("2025-12-01T02:00:00Z")
        );
    }

    #[test]
    fn a_tick_is_stable_within_its_period() {
        let cadence = Cadence::minutes(30);
        let first = cadence.tick(at("2026-11-25T10:30:00Z"));
        assert_eq!(first, cadence.tick(at("2026-11-25T10:59:59.999Z")));
        assert_ne!(first, cadence.tick(at("2026-11-25T11:00:00Z")));
    }
}
