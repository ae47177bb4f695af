//! Polar's error responses.
//!
//! * 404 and other API errors: `{"error": "<Name>", "detail": "<message>"}`;
//! * 422: FastAPI's `{"detail": [{"type", "loc", "msg", "input"}]}`;
//! * 401: an OAuth2-style body and `WWW-Authenticate`;
//! * 429: an empty body and `retry-after` (seconds).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::SimError;

#[derive(Debug)]
pub enum ApiError {
    NotFound,
    /// `loc` parts, message, error type, offending input.
    Validation(Vec<(Vec<Value>, String, &'static str, Value)>),
    Polar {
        status: StatusCode,
        error: String,
        detail: String,
    },
    Unauthorized,
    RateLimited {
        retry_after: u64,
    },
    /// An unknown `Polar-Version`.
    UnknownVersion,
}

impl ApiError {
    /// A 422 for one input at `loc` (e.g. `["query", "page"]`).
    pub fn invalid(loc: &[&str], msg: impl Into<String>, kind: &'static str, input: Value) -> Self {
        let loc = loc
            .iter()
            .map(|p| p.parse::<u64>().map_or_else(|_| json!(p), |n| json!(n)))
            .collect();
        Self::Validation(vec![(loc, msg.into(), kind, input)])
    }
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::NotFound { .. } => Self::NotFound,
            SimError::Invalid { field, message } => {
                let mut loc = vec!["body"];
                loc.extend(field.split('.'));
                Self::invalid(&loc, message, "value_error", Value::Null)
            }
            SimError::Conflict { code, message } => {
                let status = match code {
                    "AlreadyCanceledSubscription" | "InactiveSubscription" | "RefundedAlready" => {
                        StatusCode::FORBIDDEN
                    }
                    _ => StatusCode::CONFLICT,
                };
                let error = if code.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
                    code.to_owned()
                } else {
                    "Conflict".to_owned()
                };
                Self::Polar {
                    status,
                    error,
                    detail: message,
                }
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "ResourceNotFound", "detail": "Not found"})),
            )
                .into_response(),
            Self::Validation(items) => {
                let detail: Vec<Value> = items
                    .into_iter()
                    .map(|(loc, msg, kind, input)| json!({"type": kind, "loc": loc, "msg": msg, "input": input}))
                    .collect();
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    axum::Json(json!({ "detail": detail })),
                )
                    .into_response()
            }
            Self::Polar {
                status,
                error,
                detail,
            } => (
                status,
                axum::Json(json!({"error": error, "detail": detail})),
            )
                .into_response(),
            Self::Unauthorized => {
                let description = "The access token provided is expired, revoked, malformed, or invalid for other reasons.";
                let mut resp = (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": "invalid_token", "error_description": description})),
                )
                    .into_response();
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
                resp
            }
            Self::RateLimited { retry_after } => {
                let mut resp = StatusCode::TOO_MANY_REQUESTS.into_response();
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
                resp
            }
            Self::UnknownVersion => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"detail": "Not Found"})),
            )
                .into_response(),
        }
    }
}
