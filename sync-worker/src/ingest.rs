//! Webhook ingestion: store first, answer at once, apply in the background.
//!
//! For one verified delivery, a single statement inserts it keyed by its `webhook-id` with
//! `ON CONFLICT DO NOTHING`: as `pending`, then handed to the applier ([`crate::applier`]), or as
//! `ignored` for a type tollgate does not apply. No row means a duplicate (an earlier or
//! concurrent delivery of the same event holds the unique key). The answer goes out once the
//! insert has committed, so a crash before it makes Polar send the delivery again, and one
//! after it loses nothing: the applier finds the pending row when it starts.
//!
//! `tollgate webhooks replay` re-applies stored deliveries by hand. Re-applying is always
//! safe: every upsert keeps the newest version of each object.

use crate::applier::{self, Outcome};
use crate::db::{self, webhook_events::Status};
use crate::polar::Event;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
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

/// Stores one verified delivery (`payload`: the body exactly as received).
#[tracing::instrument(skip_all, fields(event_type = %event.event_type))]
pub async fn receive(
    pool: &PgPool,
    webhook_id: &str,
    event: &Event,
    payload: &str,
) -> Result<Received, sqlx::Error> {
    let status = if event.object.is_some() {
        Status::Pending
    } else {
        Status::Ignored
    };
    let stored = db::webhook_events::insert(
        pool,
        webhook_id,
        &event.event_type,
        event.timestamp,
        payload,
        status,
    )
    .await?;
    Ok(match stored {
        None => Received::Duplicate,
        Some(id) if status == Status::Pending => Received::Accepted(id),
        Some(_) => Received::Ignored,
    })
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
