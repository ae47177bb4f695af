//! The readers of outside bytes, for the fuzz targets in `fuzz/` (feature `fuzzing` only).
//!
//! Each function calls exactly what the service calls on a request and returns plain values,
//! so a target can state properties without the crate's private types becoming public. None
//! of this is part of the crate's API.

use crate::billing::ClerkEvent;
use crate::polar::{Event, Object, ObjectKind, PayloadError};
use crate::signature::{SignatureError, SignedHeaders, WebhookSecret};
use crate::usage::event::{MAX_BATCH, UsageEvent, read_batch, validate};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use serde_json::value::RawValue;
use tollgate_gate::Catalog;

/// The three Standard Webhooks headers, as the webhook handlers read them.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

/// `POST /webhooks/polar`'s (and `/webhooks/clerk`'s) check of one delivery at `now_secs`.
pub fn verify_webhook(
    secret: &str,
    headers: Headers<'_>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let secret = WebhookSecret::new(&SecretString::from(secret.to_owned()))?;
    let headers = SignedHeaders {
        id: headers.id,
        timestamp: headers.timestamp,
        signature: headers.signature,
    };
    secret.verify(headers, body, now_secs)
}

/// The HMAC keys the verifier tries for `secret`, in order.
pub fn webhook_keys(secret: &str) -> Result<Vec<Vec<u8>>, SignatureError> {
    let secret = WebhookSecret::new(&SecretString::from(secret.to_owned()))?;
    Ok(secret
        .keys()
        .iter()
        .map(|key| key.expose_secret().to_vec())
        .collect())
}

/// What tollgate reads of one Polar object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolarObject {
    /// `Subscription`, `Customer`, … (Polar's schema name).
    pub kind: &'static str,
    pub id: String,
    /// The key its deliveries are applied under, one batch at a time.
    pub customer_key: String,
    pub version_at: DateTime<Utc>,
    /// The object's JSON text as it is stored.
    pub raw: String,
}

/// A parsed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolarEvent {
    pub event_type: String,
    pub object: Option<PolarObject>,
}

/// `Event::parse`, as the webhook handler calls it on a verified body.
pub fn parse_polar_event(body: &[u8]) -> Result<PolarEvent, PayloadError> {
    let event = Event::parse(body)?;
    Ok(PolarEvent {
        object: event.object.as_ref().map(polar_object),
        event_type: event.event_type,
    })
}

/// The same object read as reconciliation reads Polar's API (`kind` from the event's type).
pub fn parse_polar_api_object(
    event_type: &str,
    raw: Value,
) -> Option<Result<PolarObject, PayloadError>> {
    let kind = ObjectKind::of_event(event_type)?;
    Some(Object::from_api(kind, raw).map(|object| polar_object(&object)))
}

/// The customer and product ids the applier reads from the objects embedded in `raw` (a
/// subscription, an order or a grant): `None` where there is no full object.
pub fn embedded_objects(raw: &str) -> (Option<String>, Option<String>) {
    serde_json::from_str::<&RawValue>(raw)
        .map(crate::webhooks::embedded_ids)
        .unwrap_or_default()
}

fn polar_object(object: &Object) -> PolarObject {
    let (kind, version, raw) = match object {
        Object::Subscription(view, raw) => ("Subscription", &view.version, raw),
        Object::Customer(view, raw) => ("Customer", &view.version, raw),
        Object::Order(view, raw) => ("Order", &view.version, raw),
        Object::Refund(view, raw) => ("Refund", &view.version, raw),
        Object::Product(view, raw) => ("Product", &view.version, raw),
        Object::BenefitGrant(view, raw) => ("BenefitGrant", &view.version, raw),
        Object::Checkout(view, raw) => ("Checkout", &view.version, raw),
    };
    PolarObject {
        kind,
        id: version.id.clone(),
        customer_key: object.customer_key().to_owned(),
        version_at: version.version_at(),
        raw: raw.get().to_owned(),
    }
}

/// What `POST /webhooks/clerk` makes of a verified body: the event type, and the Clerk user it
/// acts on with the e-mail and name it sends to Polar (`None` for a type it ignores).
pub type ClerkUser = (String, Option<(String, Option<String>, Option<String>)>);

/// `POST /webhooks/clerk`'s reading of a verified body; `Err` is the 4xx message.
pub fn parse_clerk_event(body: &[u8]) -> Result<ClerkUser, String> {
    let event: Value = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let (kind, event) = ClerkEvent::parse(&event)?;
    let user = match event {
        ClerkEvent::Upsert { user, email, name } => Some((user, email, name)),
        ClerkEvent::Delete { user } => Some((user, None, None)),
        ClerkEvent::Other => None,
    };
    Ok((kind, user))
}

/// One event of a usage batch: accepted, or refused with its index, code and message.
pub type JudgedEvent = Result<UsageEvent, (usize, String, String)>;

/// `POST /v1/usage`'s reading of a body at `now`, before the database: `Err` is a refusal of
/// the whole request, otherwise each event judged on its own.
pub fn judge_usage_batch(
    body: &[u8],
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<Vec<JudgedEvent>, String> {
    let events = read_batch(body).map_err(|error| error.to_string())?;
    if events.len() > MAX_BATCH {
        return Err("batch_too_large".to_owned());
    }
    Ok(events
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            validate(index, raw, catalog, now).map_err(|rejection| {
                let code = serde_json::to_value(rejection.code)
                    .ok()
                    .and_then(|code| code.as_str().map(str::to_owned))
                    .unwrap_or_default();
                (rejection.index, code, rejection.message)
            })
        })
        .collect())
}

/// The longest event or customer id a usage event may carry.
pub const MAX_USAGE_ID_LEN: usize = crate::usage::event::MAX_ID_LEN;

/// Whether a refusal of a Polar body is `invalid_json` (rather than `invalid_payload`).
pub fn is_invalid_json(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Json(_))
}
