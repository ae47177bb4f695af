//! Posting stored events to the app, signed as Standard Webhooks (see [`super`] for the
//! algorithm): `webhook-id` is the event's stable id, `webhook-timestamp` the attempt's Unix
//! time, `webhook-signature` `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the
//! base64-decoded part of the `whsec_` secret — what the Standard Webhooks libraries verify.

use crate::db::app_events;
use crate::signature::sign;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sqlx::PgPool;
use std::time::Duration;

/// The pause between delivery passes.
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);
/// Most events one pass claims.
const BATCH: i64 = 100;
/// How long the app may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where events go, and the key they are signed with.
pub(crate) struct EventSink {
    http: reqwest::Client,
    url: String,
    key: SecretSlice<u8>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Why the events' settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SinkError {
    #[error("TOLLGATE_EVENTS_SECRET is required with TOLLGATE_EVENTS_URL")]
    MissingSecret,
    #[error("TOLLGATE_EVENTS_SECRET must be `whsec_` followed by base64")]
    InvalidSecret,
    #[error("TOLLGATE_EVENTS_URL: cannot build an HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl EventSink {
    pub(crate) fn new(url: &str, secret: Option<&SecretString>) -> Result<Self, SinkError> {
        let secret = secret.ok_or(SinkError::MissingSecret)?;
        let key = secret
            .expose_secret()
            .strip_prefix("whsec_")
            .and_then(|rest| STANDARD.decode(rest).ok())
            .filter(|key| !key.is_empty())
            .ok_or(SinkError::InvalidSecret)?;
        let http = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        Ok(Self {
            http,
            url: url.to_owned(),
            key: SecretSlice::from(key),
        })
    }

    async fn post(&self, event_id: &str, body: &str, now_secs: i64) -> Result<(), String> {
        let signature = sign(
            self.key.expose_secret(),
            event_id,
            now_secs,
            body.as_bytes(),
        );
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", event_id)
            .header("webhook-timestamp", now_secs.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .map_err(|error| crate::error::error_chain(&error))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the app answered {}", response.status()))
        }
    }
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pass {
    pub(crate) delivered: usize,
    pub(crate) failed: usize,
}

/// Posts the due events once each; the app's time is the wall clock (it checks the signature's
/// timestamp against its own).
pub(crate) async fn run_once(pool: &PgPool, sink: &EventSink) -> Result<Pass, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut pass = Pass::default();
    for event in app_events::claim_due(&mut tx, BATCH).await? {
        let now = chrono::Utc::now().timestamp();
        match sink.post(&event.event_id, &event.body, now).await {
            Ok(()) => {
                app_events::mark_delivered(&mut tx, event.id).await?;
                crate::metrics::event_delivered(&event.kind);
                pass.delivered += 1;
            }
            Err(error) => {
                tracing::warn!(event_id = %event.event_id, error = %error, "delivering an event failed; will retry");
                app_events::mark_failed(&mut tx, event.id, &error).await?;
                crate::metrics::delivery_failed("events");
                pass.failed += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(pass)
}

/// Runs [`run_once`] every [`INTERVAL`] until the task is dropped.
pub(crate) async fn run_forever(pool: PgPool, sink: EventSink) {
    let (pool, sink) = (&pool, &sink);
    crate::pace::every(INTERVAL, move || async move {
        if let Err(error) = run_once(pool, sink).await {
            tracing::warn!(error = %error, "an event delivery pass failed");
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{SignedHeaders, WebhookSecret};

    #[test]
    fn signatures_verify_under_the_standard_scheme() {
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let sink = EventSink::new("http://127.0.0.1:1/hook", Some(&secret)).unwrap();
        let body = br#"{"type":"payment.failed"}"#;
        let signature = sign(sink.key.expose_secret(), "evt_1", 1_790_000_000, body);
        let headers = SignedHeaders {
            id: "evt_1",
            timestamp: "1790000000",
            signature: &signature,
        };
        let verifier = WebhookSecret::new(&secret).unwrap();
        assert_eq!(verifier.verify(headers, body, 1_790_000_000), Ok(()));
    }

    #[test]
    fn a_secret_must_be_whsec_base64() {
        for bad in ["not-a-secret", "whsec_!!!", "whsec_"] {
            let secret = SecretString::from(bad);
            assert!(matches!(
                EventSink::new("http://127.0.0.1:1/hook", Some(&secret)),
                Err(SinkError::InvalidSecret)
            ));
        }
        assert!(matches!(
            EventSink::new("http://127.0.0.1:1/hook", None),
            Err(SinkError::MissingSecret)
        ));
    }
}
