//! The overage outbox: units beyond the limit of a `bill` feature, sent to Polar's event
//! ingestion exactly once.
//!
//! The algorithm:
//!
//! 1. The transaction that counts usage past the limit also inserts one outbox row per event
//!    with billed units. Its `external_id` is derived from (customer, event id), the key usage is
//!    de-duplicated by, so the row exists if and only if the units were counted.
//! 2. A sender claims due rows with `FOR UPDATE SKIP LOCKED` (replicas never send one row at the
//!    same time), posts them to `POST /v1/events/ingest` while holding the claim, and marks them
//!    sent in that same transaction.
//! 3. A failed send records its error and backs off (10 s, doubling, at most an hour); the rows
//!    are tried again later, never dropped.
//!
//! If the process dies after Polar accepted a batch but before the commit, the rows stay unsent
//! and are sent again — and Polar skips them, because it de-duplicates events by `external_id`
//! per organization. So a unit is billed once, whatever crashes.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sqlx::{PgConnection, PgPool};

use super::UsageError;
use crate::db::overage_outbox::{self, Due, NewRow};
use crate::polar_client::{PolarClient, PolarError};

/// Polar's event ingestion endpoint.
pub(crate) const INGEST_PATH: &str = "/v1/events/ingest";
/// Rows sent in one request.
pub(crate) const SEND_BATCH: i64 = 100;

/// Billed units of one event, to be sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Overage {
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) event_id: String,
    pub(crate) units: u64,
    pub(crate) occurred_at: DateTime<Utc>,
    pub(crate) properties: Option<Map<String, Value>>,
}

/// Polar's idempotency key for the billed units of (customer, event id): event ids are unique
/// per customer, Polar's keys per organization, so the key hashes both.
pub(crate) fn external_id(customer: &str, event_id: &str) -> String {
    crate::digest::short_id("tollgate_", &[customer, event_id])
}

/// The event's metadata for Polar: `units` (what a meter sums), the event id, and the app's
/// properties that fit Polar's rules (keys up to 40 characters, flat values, 50 pairs).
fn metadata(overage: &Overage) -> Value {
    let mut metadata = Map::new();
    metadata.insert("units".to_owned(), json!(overage.units));
    metadata.insert("event_id".to_owned(), json!(overage.event_id));
    for (key, value) in overage.properties.iter().flatten() {
        let flat = match value {
            Value::String(text) => text.chars().count() <= 500,
            Value::Number(_) | Value::Bool(_) => true,
            _ => false,
        };
        if flat && key.chars().count() <= 40 && !metadata.contains_key(key) && metadata.len() < 50 {
            metadata.insert(key.clone(), value.clone());
        }
    }
    Value::Object(metadata)
}

/// Queues billed units, in the caller's transaction. An event already queued is skipped.
pub(crate) async fn enqueue(
    conn: &mut PgConnection,
    overages: &[Overage],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if overages.is_empty() {
        return Ok(());
    }
    let rows: Vec<NewRow<'_>> = overages
        .iter()
        .map(|o| NewRow {
            external_id: external_id(&o.customer, &o.event_id),
            customer: &o.customer,
            feature: &o.feature,
            event_id: &o.event_id,
            units: i64::try_from(o.units).unwrap_or(i64::MAX),
            occurred_at: o.occurred_at,
            metadata: metadata(o),
        })
        .collect();
    overage_outbox::enqueue(conn, &rows, now).await
}

/// What one sending pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Rows Polar accepted (as new events or as duplicates of earlier sends).
    pub sent: u64,
    /// Rows whose send failed; they wait for their next attempt.
    pub failed: u64,
}

#[derive(Debug, Deserialize)]
struct Ingested {
    #[serde(default)]
    inserted: u64,
    #[serde(default)]
    duplicates: u64,
}

/// Sends every due row, [`SEND_BATCH`] at a time, until none is due or a send fails.
pub(crate) async fn send_due(
    pool: &PgPool,
    polar: &PolarClient,
    now: DateTime<Utc>,
) -> Result<Sent, UsageError> {
    let mut outcome = Sent::default();
    loop {
        let mut tx = pool.begin().await?;
        let rows = overage_outbox::claim_due(&mut tx, now, SEND_BATCH).await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(outcome);
        }
        let failed_before = outcome.failed;
        match send(polar, &rows, now).await {
            Ok(()) => {
                mark_sent(&mut tx, &rows, now).await?;
                outcome.sent += rows.len() as u64;
            }
            // Polar refuses a whole batch for one bad event: send each alone, so one row
            // Polar will never take does not hold back the others.
            Err(PolarError::Status { status, .. }) if rows.len() > 1 && is_refusal(status) => {
                for row in &rows {
                    match send(polar, std::slice::from_ref(row), now).await {
                        Ok(()) => {
                            mark_sent(&mut tx, std::slice::from_ref(row), now).await?;
                            outcome.sent += 1;
                        }
                        Err(error) => {
                            mark_failed(&mut tx, std::slice::from_ref(row), &error, now).await?;
                            outcome.failed += 1;
                        }
                    }
                }
            }
            Err(error) => {
                mark_failed(&mut tx, &rows, &error, now).await?;
                outcome.failed += rows.len() as u64;
            }
        }
        tx.commit().await?;
        if outcome.failed > failed_before {
            // Polar is failing: leave the rest for the next pass.
            return Ok(outcome);
        }
    }
}

fn is_refusal(status: u16) -> bool {
    (400..500).contains(&status) && status != 429
}

async fn send(polar: &PolarClient, rows: &[Due], now: DateTime<Utc>) -> Result<(), PolarError> {
    let events: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "name": row.feature,
                "external_customer_id": row.customer,
                "external_id": row.external_id,
                // Polar refuses instants in its future; an event stamped ahead by a skewed
                // clock goes out at the time it is sent.
                "timestamp": row.occurred_at.min(now).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "metadata": row.metadata,
            })
        })
        .collect();
    let answer: Ingested = polar
        .post(INGEST_PATH, &json!({ "events": events }))
        .await?;
    tracing::info!(
        events = rows.len(),
        inserted = answer.inserted,
        duplicates = answer.duplicates,
        "overage sent to Polar"
    );
    Ok(())
}

async fn mark_sent(
    conn: &mut PgConnection,
    rows: &[Due],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    overage_outbox::mark_sent(conn, &ids, now).await
}

async fn mark_failed(
    conn: &mut PgConnection,
    rows: &[Due],
    error: &PolarError,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let message = crate::error::error_chain(error);
    tracing::warn!(events = rows.len(), error = %message, "sending overage to Polar failed; will retry");
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    overage_outbox::mark_failed(conn, &ids, &message, now).await
}
