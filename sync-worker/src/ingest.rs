//! Webhook ingestion: store first, then apply, never lose a delivery.
//!
//! The algorithm, for one verified delivery:
//!
//! 1. In one transaction, insert the delivery keyed by its `webhook-id` with
//!    `ON CONFLICT DO NOTHING`, already marked `applied` (or `ignored` for a type tollgate
//!    does not apply). No row means a duplicate (an earlier or concurrent delivery of the same
//!    event holds the unique key): commit and answer 2xx without doing anything.
//! 2. Apply the event in the same transaction and commit, then answer 2xx. A delivery is
//!    acknowledged only once it is durably stored, so a crash before the commit makes Polar
//!    send it again, and one after it loses nothing.
//! 3. If applying fails, roll everything back and store the delivery alone, marked `failed`
//!    with its error and a time for the next attempt; answer 2xx (it is ours now).
//!
//! The happy path is one transaction with no savepoint and no second write to the delivery's
//! row, which keeps the ingest latency at a handful of round trips.
//!
//! Failed deliveries are retried with exponential backoff by [`crate::jobs::webhook_retry`]
//! (rows claimed with `FOR UPDATE SKIP LOCKED`, so several replicas share the work) and can be
//! re-applied by hand with `tollgate webhooks replay`. Re-applying is always safe: every upsert
//! keeps the newest version of each object.

use crate::apply::{self, Applied};
use crate::db::{self, webhook_events::Status};
use crate::polar::Event;
use chrono::{DateTime, Utc};
use sqlx::{Connection as _, PgConnection, PgPool};
use tollgate_gate::Catalog;

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored and applied.
    Applied,
    /// Stored and applied, but everything it carries was already known in a newer version.
    Stale,
    /// Stored; a type tollgate does not apply.
    Ignored,
    /// Already stored by an earlier delivery; nothing done.
    Duplicate,
    /// Stored, but its apply failed; it will be retried.
    Deferred,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Stale => "stale",
            Self::Ignored => "ignored",
            Self::Duplicate => "duplicate",
            Self::Deferred => "deferred",
        }
    }
}

/// Stores and applies one verified delivery (steps 1–3 above).
#[tracing::instrument(skip_all, fields(event_type = %event.event_type))]
pub async fn receive(
    pool: &PgPool,
    catalog: &Catalog,
    webhook_id: &str,
    event: &Event,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, sqlx::Error> {
    let status = if event.object.is_some() {
        Status::Applied
    } else {
        Status::Ignored
    };
    let mut tx = pool.begin().await?;
    let inserted = db::webhook_events::insert(
        &mut tx,
        webhook_id,
        &event.event_type,
        event.timestamp,
        payload,
        status,
        None,
    )
    .await?;
    if inserted.is_none() {
        tx.commit().await?;
        return Ok(Outcome::Duplicate);
    }
    let error = match apply::apply(&mut tx, catalog, event, now).await {
        Ok(applied) => {
            tx.commit().await?;
            return Ok(outcome_of(applied));
        }
        Err(error) => error,
    };
    tx.rollback().await?;
    let message = error_chain(&error);
    tracing::warn!(error = %message, "applying a webhook failed; stored for a retry");
    let mut tx = pool.begin().await?;
    let stored = db::webhook_events::insert(
        &mut tx,
        webhook_id,
        &event.event_type,
        event.timestamp,
        payload,
        Status::Failed,
        Some(&message),
    )
    .await?;
    tx.commit().await?;
    // `None`: a concurrent delivery of the same event was stored meanwhile.
    Ok(stored.map_or(Outcome::Duplicate, |_| Outcome::Deferred))
}

fn outcome_of(applied: Applied) -> Outcome {
    match applied {
        Applied::Changed => Outcome::Applied,
        Applied::Stale => Outcome::Stale,
        Applied::Ignored => Outcome::Ignored,
    }
}

/// Applies the stored delivery `id` again (retries, replays) inside a savepoint of the
/// caller's transaction, and records how it went.
pub async fn apply_stored(
    conn: &mut PgConnection,
    catalog: &Catalog,
    id: i64,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Outcome, sqlx::Error> {
    let mut savepoint = conn.begin().await?;
    match apply::apply(&mut savepoint, catalog, event, now).await {
        Ok(applied) => {
            savepoint.commit().await?;
            let status = match applied {
                Applied::Ignored => Status::Ignored,
                Applied::Changed | Applied::Stale => Status::Applied,
            };
            db::webhook_events::mark_done(conn, id, status).await?;
            Ok(outcome_of(applied))
        }
        Err(error) => {
            savepoint.rollback().await?;
            let message = error_chain(&error);
            tracing::warn!(event_id = id, error = %message, "applying a webhook failed; will retry");
            db::webhook_events::mark_failed(conn, id, &message).await?;
            Ok(Outcome::Deferred)
        }
    }
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
    let outcome = match Event::from_value(payload) {
        Ok(event) => apply_stored(&mut tx, catalog, id, &event, now).await?,
        Err(error) => {
            db::webhook_events::mark_failed(&mut tx, id, &error.to_string()).await?;
            Outcome::Deferred
        }
    };
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
