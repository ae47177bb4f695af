//! What a call carries besides its route: the request's id, made here when the caller sends
//! none and echoed in the answer and the audit row; its headers, raw body, JSON body and query
//! string, each refused by name when unusable.

use super::ApiError;
use axum::body::Bytes;
use axum::extract::Query;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// The header of a request's id, taken from the caller or made here, and echoed.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// The request's id: the caller's `X-Request-Id` when it is usable, else a new one.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
}

/// The header `name`'s value: absent or blank is `missing_header`, not visible ASCII
/// `invalid_header`.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, ApiError> {
    let value = headers.get(name).ok_or(ApiError::MissingHeader(name))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::InvalidHeader(name, "not visible ASCII"))?;
    if value.trim().is_empty() {
        return Err(ApiError::MissingHeader(name));
    }
    Ok(value)
}

/// A body's bytes: one over the route's `limit` is `payload_too_large` naming the limit, one
/// that cannot be read `unreadable_body`.
pub(crate) fn body_bytes(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(limit)
        } else {
            ApiError::UnreadableBody(rejection.body_text())
        }
    })
}

/// A JSON body as `T`, refused when one of its strings holds U+0000 (see [`crate::text`]).
pub(crate) fn json_body<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !crate::text::storable_json(&value) {
        return Err(ApiError::InvalidRequest(
            "the body holds U+0000 in a string, which no value may contain".to_owned(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|error| ApiError::InvalidRequest(format!("the body does not parse: {error}")))
}

/// A JSON body as `T` from its bytes, refused like [`json_body`] when it does not parse.
pub(crate) fn json_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|error| ApiError::InvalidRequest(format!("the body does not parse: {error}")))?;
    json_body(value)
}

/// A query string as `T`, refused as `invalid_request` with axum's reason when it does not
/// parse.
pub(crate) fn query<T>(params: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    params
        .map(|Query(params)| params)
        .map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))
}

/// The answer with the request's id in its `X-Request-Id` header.
pub(crate) fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// `wait` as `Retry-After` states it: whole seconds, rounded up, at least 1.
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The answer with `Retry-After: seconds`.
pub(crate) fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}
