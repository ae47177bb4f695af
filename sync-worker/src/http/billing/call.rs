//! How a mutating billing call runs: its [`Call`] (caller, request id, idempotency key and
//! body digest) is read with the body by the [`Mutation`] extractor; [`mutate`] claims the key,
//! runs the operation, and stores its answer under the key with its audit row in one
//! transaction, or releases the key and audits the refusal.

use super::super::auth::{Authorized, MinRole};
use super::super::request::{
    json_bytes, request_id, retry_after_seconds, with_request_id, with_retry_after,
};
use super::super::{ApiError, AppState};
use crate::auth::Caller;
use crate::billing::{Action, BillingError, Done};
use crate::db;
use crate::idempotency::{self, Claim};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::future::Future;
use std::marker::PhantomData;

const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The largest body a `/v1` call takes.
pub(super) const BODY_LIMIT: usize = 64 * 1024;

/// What the handlers learn from a request besides its body.
pub(super) struct Call {
    pub(super) caller: Caller,
    request_id: String,
    key: Option<String>,
    digest: String,
}

impl Call {
    fn new(caller: Caller, parts: &Parts, body: &[u8]) -> Result<Self, ApiError> {
        let key = match parts.headers.get(IDEMPOTENCY_KEY) {
            None => None,
            Some(value) => {
                let key = value.to_str().ok().map(str::trim).unwrap_or_default();
                if key.is_empty() || key.len() > idempotency::MAX_KEY_LEN {
                    return Err(ApiError::InvalidHeader(
                        "Idempotency-Key",
                        "it must be 1 to 255 visible ASCII characters",
                    ));
                }
                Some(key.to_owned())
            }
        };
        // The path as the client sent it (nested routers see theirs without the prefix).
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path(), |uri| uri.0.path());
        Ok(Call {
            caller,
            request_id: request_id(&parts.headers),
            key,
            digest: idempotency::request_digest(parts.method.as_str(), path, &canonical(body)),
        })
    }
}

/// A mutating call: who makes it (a caller whose role includes `R`'s), the [`Call`] its
/// idempotency key and audit row need, and its body.
pub(super) struct Mutation<R>(pub(super) Call, pub(super) Bytes, pub(super) PhantomData<R>);

impl<R: MinRole> FromRequest<AppState> for Mutation<R> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let Authorized(caller, _) = Authorized::<R>::from_request_parts(&mut parts, state).await?;
        let body = axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .map_err(|_| ApiError::PayloadTooLarge(BODY_LIMIT).into_response())?;
        let call = Call::new(caller, &parts, &body).map_err(IntoResponse::into_response)?;
        Ok(Mutation(call, body, PhantomData))
    }
}

/// The body as compared between a request and its retry: JSON with its keys sorted and no
/// spaces (so a client that serialises the same request differently is not refused), else the
/// bytes themselves.
fn canonical(body: &[u8]) -> Vec<u8> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Vec::new();
    }
    serde_json::from_slice::<Value>(body)
        .and_then(|value| serde_json::to_vec(&value))
        .unwrap_or_else(|_| body.to_vec())
}

pub(super) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    json_bytes(body)
}

/// The answer to a refused operation: `{code, message}`, with `Retry-After` on a 503.
pub(crate) fn refusal(error: BillingError) -> Response {
    let retry_after = error.retry_after();
    let api = match error {
        BillingError::Database(error) => ApiError::from(error),
        BillingError::Internal(message) => ApiError::Internal(message.into()),
        other => ApiError::Refused {
            status: StatusCode::from_u16(other.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: other.code(),
            message: other.to_string(),
        },
    };
    let response = api.into_response();
    match retry_after {
        Some(wait) => with_retry_after(response, retry_after_seconds(wait)),
        None => response,
    }
}

fn answer(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        Json(body),
    )
        .into_response()
}

/// Runs a mutating operation under its idempotency key and audits it.
pub(super) async fn mutate<Op, Fut>(
    state: &AppState,
    call: &Call,
    audit: (Action, String, Option<String>),
    key_required: bool,
    operation: Op,
) -> Response
where
    Op: FnOnce() -> Fut,
    Fut: Future<Output = Result<Done, BillingError>>,
{
    let response = match run(state, call, &audit, key_required, operation).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    with_request_id(response, &call.request_id)
}

async fn run<Op, Fut>(
    state: &AppState,
    call: &Call,
    (action, subject, customer): &(Action, String, Option<String>),
    key_required: bool,
    operation: Op,
) -> Result<Response, ApiError>
where
    Op: FnOnce() -> Fut,
    Fut: Future<Output = Result<Done, BillingError>>,
{
    let actor = call.caller.actor.as_str();
    let now = state.clock.now();
    if key_required && call.key.is_none() {
        let code = "idempotency_key_required";
        let message =
            "this call needs an `Idempotency-Key` header, so that a retry cannot refund twice"
                .to_owned();
        let details = json!({ "refused": code, "message": message });
        let mut conn = state.pool.acquire().await?;
        audit_row(
            &mut conn,
            call,
            action.as_str(),
            subject,
            customer.as_deref(),
            details,
            now,
        )
        .await?;
        return Err(ApiError::Refused {
            status: StatusCode::BAD_REQUEST,
            code,
            message,
        });
    }
    if let Some(key) = &call.key {
        match idempotency::claim(&state.pool, actor, key, &call.digest, now).await? {
            Claim::Claimed => {}
            Claim::Replay { status, body } => {
                let mut response = answer(status, body);
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return Ok(response);
            }
            Claim::Reused => {
                return Err(ApiError::Refused {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: "idempotency_key_reused",
                    message: format!(
                        "Idempotency-Key `{key}` was used within 24 hours for another request; use a new key for a new request"
                    ),
                });
            }
            Claim::InProgress => {
                return Err(ApiError::Refused {
                    status: StatusCode::CONFLICT,
                    code: "idempotency_key_in_use",
                    message: format!(
                        "a request with Idempotency-Key `{key}` is still in progress; retry once it has answered"
                    ),
                });
            }
        }
    }
    match operation().await {
        Ok(done) => {
            let mut tx = state.pool.begin().await?;
            if let Some(key) = &call.key {
                idempotency::complete(&mut tx, actor, key, done.status, &done.body).await?;
            }
            let details = json!({ "status": done.status, "idempotency_key": call.key });
            let entry =
                done.audit_entry(actor, call.caller.role.as_str(), &call.request_id, details);
            db::audit::record_entry(&mut tx, &entry, now).await?;
            tx.commit().await?;
            Ok(answer(done.status, done.body))
        }
        Err(error) => {
            let mut tx = state.pool.begin().await?;
            if let Some(key) = &call.key {
                idempotency::release(&mut tx, actor, key).await?;
            }
            let details = json!({ "refused": error.code(), "message": error.to_string() });
            audit_row(
                &mut tx,
                call,
                action.as_str(),
                subject,
                customer.as_deref(),
                details,
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(refusal(error))
        }
    }
}

/// The audit row of a refused call.
async fn audit_row(
    conn: &mut sqlx::PgConnection,
    call: &Call,
    action: &str,
    subject: &str,
    customer: Option<&str>,
    details: Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    db::audit::record_entry(
        conn,
        &db::audit::Entry {
            actor: &call.caller.actor,
            role: Some(call.caller.role.as_str()),
            action,
            subject,
            customer,
            request_id: Some(&call.request_id),
            details,
            ..Default::default()
        },
        now,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn a_retry_serialised_differently_is_the_same_request() {
        assert_eq!(
            canonical(br#"{"order": "o", "amount": 5, "reason": "other"}"#),
            canonical(br#"{"reason":"other","amount":5,"order":"o"}"#)
        );
        assert_ne!(
            canonical(br#"{"amount": 5}"#),
            canonical(br#"{"amount": 6}"#)
        );
        assert_eq!(canonical(b"  "), canonical(b""));
    }
}
