//! Health: is tollgate doing its job, and if not, what is wrong.
//!
//! The checks, each cheap enough to run every few minutes:
//!
//! - **database**: PostgreSQL answers.
//! - **polar**: Polar's API answers an authenticated request (skipped without a token).
//! - **polar_circuit**: the client's circuit breaker is closed (open means Polar failed
//!   repeatedly and calls are suspended).
//! - **outbox_lag**: the oldest snapshot waiting to be published is younger than
//!   [`OUTBOX_LAG_LIMIT`]; older means the edge serves stale entitlements.
//! - **failed_webhooks**: no delivery is waiting for a retry after a failed apply.
//! - **webhook_backlog**: the oldest delivery waiting to be applied is younger than
//!   [`WEBHOOK_BACKLOG_LIMIT`]; older means the applier is stopped or cannot keep up.
//! - **stuck_jobs**: no job run has been unfinished for longer than [`STUCK_AFTER`] (a replica
//!   died mid-run, or a run hangs).
//!
//! [`record`] turns each failed check into an alert row — one open alert per check, bumped
//! while the problem lasts and resolved when the check passes again — and logs it at error
//! level, which is what paging systems watch. The opening and the resolution are each queued
//! once, in the same transaction, for [`crate::alerts`] to post.

use crate::db::{self, alerts};
use crate::polar_client::{BreakerState, PolarClient};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;

/// The oldest unpublished snapshot may be this old before it is a problem.
pub(crate) const OUTBOX_LAG_LIMIT: Duration = Duration::minutes(15);
/// The oldest pending webhook delivery may be this old before it is a problem.
pub(crate) const WEBHOOK_BACKLOG_LIMIT: Duration = Duration::minutes(1);
/// A job run unfinished for this long is stuck.
pub(crate) const STUCK_AFTER: Duration = Duration::hours(3);

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// What was found, for people.
    pub detail: String,
    /// What was measured, for machines.
    pub value: Value,
}

/// Every check's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub(crate) fn problems(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|check| !check.ok)
    }

    pub(crate) fn healthy(&self) -> bool {
        self.problems().next().is_none()
    }

    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.name == name)
    }
}

fn result(name: &'static str, ok: bool, detail: impl Into<String>, value: Value) -> Check {
    Check {
        name,
        ok,
        detail: detail.into(),
        value,
    }
}

/// Runs every check at `now`. A check that cannot run is itself a problem; `check` never fails.
pub async fn check(pool: &PgPool, polar: Option<&PolarClient>, now: DateTime<Utc>) -> Report {
    let mut checks = Vec::new();
    let database = db::ping(pool).await;
    let database_ok = database.is_ok();
    checks.push(match database {
        Ok(_) => result("database", true, "PostgreSQL answers", json!(true)),
        Err(error) => result(
            "database",
            false,
            format!("PostgreSQL does not answer: {error}"),
            json!(false),
        ),
    });
    if let Some(polar) = polar {
        checks.extend(polar_checks(polar).await);
    }
    if database_ok {
        checks.push(outbox_lag(pool).await);
        checks.push(failed_webhooks(pool).await);
        checks.push(webhook_backlog(pool, now).await);
        checks.push(stuck_jobs(pool, now).await);
    }
    Report { checks }
}

async fn polar_checks(polar: &PolarClient) -> Vec<Check> {
    let query = [("limit", "1".to_owned()), ("page", "1".to_owned())];
    let reached = polar.get::<Value>("/v1/products/", &query).await;
    let reachability = match reached {
        Ok(_) => result(
            "polar",
            true,
            format!("{} answers", polar.base_url()),
            json!(true),
        ),
        Err(error) => result(
            "polar",
            false,
            crate::error::error_chain(&error),
            json!(false),
        ),
    };
    let state = polar.breaker_state();
    crate::metrics::polar_circuit(match state {
        BreakerState::Closed => 0,
        BreakerState::Open => 1,
        BreakerState::HalfOpen => 2,
    });
    let circuit = result(
        "polar_circuit",
        state == BreakerState::Closed,
        match state {
            BreakerState::Closed => "closed: calls to Polar go through",
            BreakerState::Open => "open: calls to Polar are suspended after repeated failures",
            BreakerState::HalfOpen => "half-open: the next call to Polar is a trial",
        },
        json!(state),
    );
    vec![reachability, circuit]
}

async fn outbox_lag(pool: &PgPool) -> Check {
    // The outbox's own clock (the database's), so that lag does not depend on ours.
    let lag = match pool.acquire().await {
        Ok(mut conn) => db::publish_outbox::lag(&mut conn).await,
        Err(error) => Err(error),
    };
    match lag {
        Ok(None) => result(
            "outbox_lag",
            true,
            "nothing waits to be published",
            json!(0),
        ),
        Ok(Some(lag)) => {
            let seconds = lag.as_secs_f64().round();
            let limit = OUTBOX_LAG_LIMIT.num_seconds() as f64;
            result(
                "outbox_lag",
                seconds <= limit,
                format!("the oldest unpublished snapshot waits since {seconds} s"),
                json!(seconds),
            )
        }
        Err(error) => result("outbox_lag", false, error.to_string(), Value::Null),
    }
}

async fn failed_webhooks(pool: &PgPool) -> Check {
    let failed = match pool.acquire().await {
        Ok(mut conn) => db::webhook_events::count_failed(&mut conn).await,
        Err(error) => Err(error),
    };
    match failed {
        Ok(0) => result("failed_webhooks", true, "no failed webhooks", json!(0)),
        Ok(count) => result(
            "failed_webhooks",
            false,
            format!("{count} webhook deliveries failed to apply and wait for a retry"),
            json!(count),
        ),
        Err(error) => result("failed_webhooks", false, error.to_string(), Value::Null),
    }
}

async fn webhook_backlog(pool: &PgPool, now: DateTime<Utc>) -> Check {
    let oldest = match pool.acquire().await {
        Ok(mut conn) => db::webhook_events::pending_backlog(&mut conn).await,
        Err(error) => Err(error),
    };
    match oldest {
        Ok((Some(oldest), count)) if now - oldest > WEBHOOK_BACKLOG_LIMIT => result(
            "webhook_backlog",
            false,
            format!(
                "{count} pending webhook deliveries, the oldest waiting for {} s",
                (now - oldest).num_seconds()
            ),
            json!(count),
        ),
        Ok((_, count)) => result(
            "webhook_backlog",
            true,
            "webhook deliveries are applied as they arrive",
            json!(count),
        ),
        Err(error) => result("webhook_backlog", false, error.to_string(), Value::Null),
    }
}

async fn stuck_jobs(pool: &PgPool, now: DateTime<Utc>) -> Check {
    let stuck = db::job_runs::unfinished_since(pool, now - STUCK_AFTER).await;
    match stuck {
        Ok(jobs) if jobs.is_empty() => result("stuck_jobs", true, "no stuck job runs", json!([])),
        Ok(jobs) => result(
            "stuck_jobs",
            false,
            format!("unfinished for over 3 hours: {}", jobs.join(", ")),
            json!(jobs),
        ),
        Err(error) => result("stuck_jobs", false, error.to_string(), Value::Null),
    }
}

/// Raises an alert (and logs an error) for each problem in `report`, and resolves the open
/// alerts of checks that passed. Without a database nothing can be recorded: the problems are
/// logged and the error returned.
pub(crate) async fn record(
    pool: &PgPool,
    report: &Report,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for problem in report.problems() {
        tracing::error!(
            check = problem.name,
            detail = %problem.detail,
            "health check failed"
        );
    }
    let mut tx = pool.begin().await?;
    for check in &report.checks {
        if check.ok {
            if let Some(resolved) = alerts::resolve(&mut tx, check.name, now).await? {
                crate::alerts::queue_resolved(&mut tx, check.name, &resolved, now).await?;
            }
        } else if let Some(opened) =
            alerts::raise(&mut tx, check.name, &check.detail, &check.value, now).await?
        {
            crate::alerts::queue_opened(&mut tx, check.name, &opened).await?;
        }
    }
    tx.commit().await
}

/// The open alerts, oldest first.
pub async fn open_alerts(pool: &PgPool) -> Result<Vec<alerts::Alert>, sqlx::Error> {
    alerts::open(&mut *pool.acquire().await?).await
}
