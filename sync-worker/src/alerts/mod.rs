//! Alerts out: each health alert posted to a Slack-compatible webhook once when it opens and
//! once when it resolves.
//!
//! The health check ([`crate::health::record`]) queues an `alert_outbox` row in the transaction
//! that opens or resolves the alert, so a transition is queued exactly when it is committed; the
//! row's unique `(alert, transition)` key keeps a second detection from queueing it again. With
//! `TOLLGATE_ALERT_WEBHOOK_URL` set, a sender then, once a second:
//!
//! 1. takes a transaction-scoped advisory lock, so one replica sends at a time;
//! 2. takes the unsent rows in id order and posts them one by one while they are due;
//! 3. marks each row sent once the receiver answered 2xx — or records the error and schedules
//!    the next attempt with exponential backoff (1 s, 2 s, 4 s … at most 5 minutes), and stops
//!    the pass there, so an alert's resolution never overtakes its opening.
//!
//! A crash between a 2xx and the commit sends that message again: at least once, in order.
//! Without the URL the rows wait, and are sent once one is configured.

use crate::db::{alert_outbox, alerts::Transition};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use std::time::Duration;

/// The pause between sending passes.
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);
/// Most messages one pass sends.
const BATCH: i64 = 100;
/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where alerts are posted.
#[derive(Debug, Clone)]
pub(crate) struct AlertSink {
    http: reqwest::Client,
    url: String,
}

impl AlertSink {
    pub(crate) fn new(url: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        Ok(Self {
            http,
            url: url.to_owned(),
        })
    }

    async fn post(&self, payload: &Value) -> Result<(), String> {
        let response = self
            .http
            .post(&self.url)
            .json(payload)
            .send()
            .await
            .map_err(|error| crate::error::error_chain(&error))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {}", response.status()))
        }
    }
}

/// Queues the opening of the alert of check `kind`.
pub(crate) async fn queue_opened(
    conn: &mut PgConnection,
    kind: &str,
    alert: &Transition,
) -> Result<(), sqlx::Error> {
    let text = format!(
        ":rotating_light: tollgate alert opened: `{kind}` is failing: {}",
        alert.message
    );
    alert_outbox::enqueue(conn, alert.id, "opened", &slack(&text)).await
}

/// Queues the resolution of the alert of check `kind`.
pub(crate) async fn queue_resolved(
    conn: &mut PgConnection,
    kind: &str,
    alert: &Transition,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let minutes = (now - alert.raised_at).num_minutes();
    let text = format!(
        ":white_check_mark: tollgate alert resolved: `{kind}` passes again, after {minutes} min \
         (it had failed with: {})",
        alert.message
    );
    alert_outbox::enqueue(conn, alert.id, "resolved", &slack(&text)).await
}

/// A Slack incoming-webhook body: `text` for notifications and clients without blocks, the
/// same text as a block for the channel.
fn slack(text: &str) -> Value {
    json!({
        "text": text,
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text } }],
    })
}

/// Sends the due alerts, in order, until one fails; returns how many were sent. Sends nothing
/// when another replica holds the sender's lock.
pub(crate) async fn run_once(pool: &PgPool, sink: &AlertSink) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !alert_outbox::try_lock_sender(&mut tx).await? {
        return Ok(0);
    }
    let mut sent = 0;
    for row in alert_outbox::claim_unsent(&mut tx, BATCH).await? {
        if !row.due {
            break;
        }
        match sink.post(&row.payload).await {
            Ok(()) => {
                alert_outbox::mark_sent(&mut tx, row.id).await?;
                crate::metrics::alert_sent(&row.transition);
                sent += 1;
            }
            Err(error) => {
                tracing::warn!(error = %error, "posting an alert failed; will retry");
                alert_outbox::mark_failed(&mut tx, row.id, &error).await?;
                crate::metrics::delivery_failed("alerts");
                break;
            }
        }
    }
    tx.commit().await?;
    Ok(sent)
}

/// Runs [`run_once`] every [`INTERVAL`] until the task is dropped.
pub(crate) async fn run_forever(pool: PgPool, sink: AlertSink) {
    let (pool, sink) = (&pool, &sink);
    crate::pace::every(INTERVAL, move || async move {
        if let Err(error) = run_once(pool, sink).await {
            tracing::warn!(error = %error, "an alert sending pass failed");
        }
    })
    .await
}
