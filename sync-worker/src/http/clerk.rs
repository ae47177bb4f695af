//! `POST /webhooks/clerk`: Clerk's user events, signed as Standard Webhooks under `svix-*`
//! headers with `CLERK_WEBHOOK_SECRET`, become Polar customers ([`crate::billing::ClerkEvent`]).
//!
//! A delivery is recorded by its `svix-id` before it is acted on, so a redelivery (even a
//! concurrent one) answers 200 `duplicate` and does nothing. When Polar cannot be reached the
//! record is deleted and the answer is 503, which Clerk retries. The route exists only when the
//! secret is set.

use super::request::{body_bytes, header};
use super::{ApiError, AppState};
use crate::billing::{Action, BillingError, ClerkEvent};
use crate::db;
use crate::signature::{SignatureError, SignedHeaders};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What [`receive`] answers.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = ClerkReceipt)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct Receipt {
    /// `processed`, `duplicate` or `ignored`.
    status: String,
}

/// A Clerk user event (`user.created`, `user.updated`, `user.deleted`), signed as Standard
/// Webhooks under `svix-*` headers with CLERK_WEBHOOK_SECRET.
///
/// The Polar customer whose `external_id` is the Clerk user id is made, updated or deleted.
/// Without CLERK_WEBHOOK_SECRET the route answers 404 `not_configured`.
#[utoipa::path(
    post,
    path = "/webhooks/clerk",
    tag = "webhooks",
    params(
        ("svix-id" = String, Header, description = "The delivery's id"),
        ("svix-timestamp" = String, Header, description = "Unix time in seconds, within 5 minutes of the server's"),
        ("svix-signature" = String, Header, description = "`v1,<base64 HMAC-SHA256>`, space-separated"),
    ),
    request_body(content = Object, description = "Clerk's event `{type, data}`"),
    responses((status = 200, description = "Processed, a duplicate, or a type tollgate ignores", body = Receipt)),
    extensions(("x-codes" = json!(["not_configured", "missing_header", "invalid_header", "invalid_signature", "stale_timestamp", "payload_too_large", "unreadable_body", "invalid_json", "invalid_payload", "invalid_request", "polar_rejected", "polar_unavailable"])))
)]
#[tracing::instrument(skip_all, fields(svix_id))]
pub(crate) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some(secret) = &state.clerk_secret else {
        return Err(ApiError::Refused {
            status: StatusCode::NOT_FOUND,
            code: "not_configured",
            message: "`POST /webhooks/clerk` is off: CLERK_WEBHOOK_SECRET is not set".to_owned(),
        });
    };
    let body = body_bytes(body, super::MAX_BODY_BYTES)?;
    let signed = SignedHeaders {
        id: header(&headers, "svix-id")?,
        timestamp: header(&headers, "svix-timestamp")?,
        signature: header(&headers, "svix-signature")?,
    };
    tracing::Span::current().record("svix_id", signed.id);
    let now = state.clock.now();
    secret
        .verify(signed, &body, now.timestamp())
        .map_err(|error| match error {
            SignatureError::InvalidTimestamp => {
                ApiError::InvalidHeader("svix-timestamp", "not a Unix time in seconds")
            }
            SignatureError::TimestampOutOfTolerance => ApiError::Refused {
                status: StatusCode::UNAUTHORIZED,
                code: "stale_timestamp",
                message: "`svix-timestamp` is more than 5 minutes away from the server's time"
                    .to_owned(),
            },
            _ => ApiError::Refused {
                status: StatusCode::UNAUTHORIZED,
                code: "invalid_signature",
                message:
                    "no signature in `svix-signature` matches this body for CLERK_WEBHOOK_SECRET"
                        .to_owned(),
            },
        })?;
    let event: Value = serde_json::from_slice(&body)
        .map_err(|error| ApiError::InvalidJson(format!("the body is not JSON: {error}")))?;
    let (kind, event) = ClerkEvent::parse(&event).map_err(ApiError::InvalidPayload)?;
    let mut conn = state.pool.acquire().await?;
    if !db::clerk_events::insert(&mut conn, signed.id, &kind, event.user(), now).await? {
        return Ok(Json(json!({ "status": "duplicate" })).into_response());
    }
    drop(conn);
    let outcome = state.billing.clerk(&event).await;
    let mut tx = state.pool.begin().await?;
    let response = match outcome {
        Ok(None) => Json(json!({ "status": "ignored" })).into_response(),
        Ok(Some(done)) => {
            db::audit::record_entry(
                &mut tx,
                &db::audit::Entry {
                    actor: "clerk",
                    action: done.action.as_str(),
                    subject: &done.subject,
                    customer: done.customer.as_deref(),
                    before: done.before.as_ref(),
                    after: done.after.as_ref(),
                    request_id: Some(signed.id),
                    details: json!({ "event": kind }),
                    ..Default::default()
                },
                now,
            )
            .await?;
            Json(json!({ "status": "processed" })).into_response()
        }
        Err(error) => {
            let transient = matches!(
                error,
                BillingError::PolarUnavailable { .. }
                    | BillingError::PolarNotConfigured
                    | BillingError::Database(_)
                    | BillingError::Internal(_)
            );
            if transient {
                // Not done: forget the delivery so that Clerk's retry is handled.
                db::clerk_events::delete(&mut tx, signed.id).await?;
            }
            db::audit::record_entry(
                &mut tx,
                &db::audit::Entry {
                    actor: "clerk",
                    action: Action::ClerkRefused.as_str(),
                    subject: &format!("customer:{}", event.user().unwrap_or_default()),
                    customer: event.user(),
                    request_id: Some(signed.id),
                    details: json!({ "event": kind, "refused": error.code(), "message": error.to_string() }),
                    ..Default::default()
                },
                now,
            )
            .await?;
            super::billing::refusal(error)
        }
    };
    tx.commit().await?;
    Ok(response)
}
