//! `POST /webhooks/polar`: verify, store, answer; the applier applies it.
//!
//! The raw bytes are verified before anything is parsed, the body is parsed and checked before
//! anything is stored, and every refusal is a 4xx that leaves the database untouched. An
//! accepted delivery answers 202 once it is stored; a duplicate or an ignored type answers 200.

use super::request::{body_bytes, header};
use super::{ApiError, AppState};
use crate::polar::{Event, Object, PayloadError};
use crate::signature::{SignatureError, SignedHeaders};
use crate::webhooks::{Status, Stored};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use tollgate_gate::polar::Subscription as EngineSubscription;

/// Polar's payloads are a few KiB; anything this large is not from Polar.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Longest `webhook-id` accepted (Polar's are UUIDs).
const MAX_WEBHOOK_ID_LEN: usize = 255;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookReceipt)]
pub struct Receipt {
    /// `accepted`, `ignored` or `duplicate`.
    pub status: &'static str,
}

/// A Polar webhook delivery, signed as Standard Webhooks.
///
/// The raw body is verified against POLAR_WEBHOOK_SECRET, then stored once by `webhook-id`
/// and applied in the background: 202 `accepted`; a redelivery answers 200 `duplicate`, an
/// event type tollgate does not act on 200 `ignored`.
#[utoipa::path(
    post,
    path = "/webhooks/polar",
    tag = "webhooks",
    params(
        ("webhook-id" = String, Header, description = "The delivery's id (at most 255 characters)"),
        ("webhook-timestamp" = String, Header, description = "Unix time in seconds, within 5 minutes of the server's"),
        ("webhook-signature" = String, Header, description = "`v1,<base64 HMAC-SHA256>`, space-separated"),
    ),
    request_body(content = Object, description = "Polar's event `{type, timestamp, data}`"),
    responses(
        (status = 202, description = "Stored; applied in the background", body = Receipt),
        (status = 200, description = "A duplicate, or a type tollgate ignores", body = Receipt),
    ),
    extensions(("x-codes" = json!(["missing_header", "invalid_header", "unreadable_body", "invalid_signature", "stale_timestamp", "payload_too_large", "invalid_json", "invalid_payload"])))
)]
#[tracing::instrument(skip_all, fields(webhook_id))]
pub(crate) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    let body = body_bytes(body, MAX_BODY_BYTES)?;
    let signed = SignedHeaders {
        id: header(&headers, "webhook-id")?,
        timestamp: header(&headers, "webhook-timestamp")?,
        signature: header(&headers, "webhook-signature")?,
    };
    if signed.id.len() > MAX_WEBHOOK_ID_LEN {
        return Err(ApiError::InvalidHeader(
            "webhook-id",
            "longer than 255 characters",
        ));
    }
    tracing::Span::current().record("webhook_id", signed.id);
    let now = state.clock.now();
    state
        .secret
        .verify(signed, &body, now.timestamp())
        .map_err(|error| match error {
            SignatureError::InvalidTimestamp => {
                ApiError::InvalidHeader("webhook-timestamp", "not a Unix time in seconds")
            }
            SignatureError::TimestampOutOfTolerance => ApiError::StaleTimestamp,
            _ => ApiError::InvalidSignature,
        })?;

    // Parsed once, straight from the bytes; the bytes themselves are what gets stored.
    let payload = std::str::from_utf8(&body)
        .map_err(|_| ApiError::InvalidJson("the body is not UTF-8".to_owned()))?;
    let event = Event::parse(&body).map_err(|error| match error {
        PayloadError::Json(_) => ApiError::InvalidJson(error.to_string()),
        _ => ApiError::InvalidPayload(error.to_string()),
    })?;
    // A subscription the engine cannot read could never be applied: refuse it up front
    // rather than store a delivery that fails forever.
    if let Some(Object::Subscription(_, raw)) = &event.object {
        serde_json::from_str::<EngineSubscription>(raw.get()).map_err(|error| {
            ApiError::InvalidPayload(
                PayloadError::Engine(event.event_type.clone(), error.to_string()).to_string(),
            )
        })?;
    }

    let stored = state
        .inbox
        .receive(signed.id, &event, payload)
        .await
        .map_err(ApiError::internal)?;
    let receipt = match stored {
        Some(Stored {
            status: Status::Pending,
            ..
        }) => "accepted",
        Some(_) => "ignored",
        None => "duplicate",
    };
    tracing::info!(event_type = %event.event_type, outcome = receipt, "webhook received");
    crate::metrics::webhook_received(&event.event_type);
    let code = match stored {
        Some(Stored {
            id,
            status: Status::Pending,
        }) => {
            state.applier.submit(id, event);
            StatusCode::ACCEPTED
        }
        _ => StatusCode::OK,
    };
    Ok((code, Json(Receipt { status: receipt })))
}
