//! Events to the app: what changed for a customer, posted to `TOLLGATE_EVENTS_URL` and signed
//! as Standard Webhooks, so the app hears of it without polling.
//!
//! **Detection.** Every snapshot rebuild compares the new snapshot with the previous one
//! ([`detect`]) in the rebuild's own transaction: a new plan or new limits give
//! `entitlements.updated`; a metered count at its plan's `warn_at` or at its limit gives
//! `usage.threshold_reached`; a subscription `past_due` or `unpaid` gives `payment.failed`; a
//! subscription cancelling at its period end within [`ENDING_NOTICE`] gives
//! `subscription.ending`. Since a subscription reaches its last three days without any change
//! that would rebuild its snapshot, the `subscription_ending` job
//! ([`crate::jobs::subscription_ending`]) looks for those every hour.
//!
//! **One event per fact.** Each event's id, the `webhook-id` the app sees, is derived from its
//! type, subject and period (`entitlements.updated` of a customer's revision, a threshold of a
//! feature in one usage period, a subscription's failed period, its end), and `app_events`
//! keeps ids unique: detecting the same fact again — another rebuild, the job's next run,
//! another replica — inserts nothing.
//!
//! **Delivery** ([`deliver`]). With `TOLLGATE_EVENTS_URL` and `TOLLGATE_EVENTS_SECRET` set, a
//! sender polls once a second, claims due events (`FOR UPDATE SKIP LOCKED`, so replicas share
//! the work), posts each with fresh `webhook-timestamp` and `webhook-signature` headers, and
//! marks it delivered on a 2xx — or records the error and retries it after 1 s, 2 s, 4 s …, at
//! most an hour apart, until the app takes it. Delivery is at least once (a crash after the
//! app's 2xx and before the commit sends it again, with the same id); events of different
//! facts may arrive out of order.

pub(crate) mod deliver;
pub(crate) mod detect;

use crate::db::app_events::{self, NewRow};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use sqlx::PgConnection;

/// How long before a cancelled subscription's end `subscription.ending` is sent.
pub(crate) const ENDING_NOTICE: chrono::Duration = chrono::Duration::days(3);

/// An event to queue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewEvent {
    /// `evt_` and 32 hex digits of the SHA-256 of (type, subject, period).
    pub(crate) id: String,
    pub(crate) kind: &'static str,
    pub(crate) customer: String,
    pub(crate) data: serde_json::Value,
}

impl NewEvent {
    /// An event whose id is derived from `kind`, `subject` and `period`.
    pub(crate) fn new(
        kind: &'static str,
        customer: &str,
        subject: &str,
        period: &str,
        data: serde_json::Value,
    ) -> Self {
        Self {
            id: event_id(kind, subject, period),
            kind,
            customer: customer.to_owned(),
            data,
        }
    }
}

/// Stores `events` in the caller's transaction, each as the body the app will receive:
/// `{"type", "timestamp", "data"}`. Events already stored are skipped; returns how many were new.
pub(crate) async fn record(
    conn: &mut PgConnection,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let timestamp = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let rows: Vec<NewRow<'_>> = events
        .iter()
        .map(|event| NewRow {
            event_id: &event.id,
            kind: event.kind,
            customer: &event.customer,
            body: json!({ "type": event.kind, "timestamp": timestamp, "data": event.data })
                .to_string(),
        })
        .collect();
    app_events::insert_new(conn, &rows).await
}

/// The stable id of the event (`kind`, `subject`, `period`).
pub(crate) fn event_id(kind: &str, subject: &str, period: &str) -> String {
    crate::digest::short_id("evt_", &[kind, subject, period])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_type_subject_and_period_only() {
        let id = event_id("payment.failed", "sub_1", "2026-11-01T00:00:00Z");
        assert_eq!(
            id,
            event_id("payment.failed", "sub_1", "2026-11-01T00:00:00Z")
        );
        assert_eq!(id.len(), 36);
        assert_ne!(
            id,
            event_id("payment.failed", "sub_1", "2026-12-01T00:00:00Z")
        );
        assert_ne!(
            id,
            event_id("payment.failed", "sub_2", "2026-11-01T00:00:00Z")
        );
        // The separator keeps ("a", "bc") and ("ab", "c") apart.
        assert_ne!(event_id("t", "a", "bc"), event_id("t", "ab", "c"));
    }
}
