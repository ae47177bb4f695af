//! The one error type of the HTTP API and how it is answered.
//!
//! A client error answers its status with `{"code", "message"}`: `code` is stable (clients
//! branch on it), `message` names the problem for a human. An internal error answers an opaque
//! 500 and is logged once, with its causes, where it is turned into a response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ApiError {
    #[error("the `{0}` header is missing")]
    MissingHeader(&'static str),
    #[error("the `{0}` header is not valid: {1}")]
    InvalidHeader(&'static str, &'static str),
    #[error("no signature in `webhook-signature` matches this body for the configured secret")]
    InvalidSignature,
    #[error("`webhook-timestamp` is more than 5 minutes away from the server's time")]
    StaleTimestamp,
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the body could not be read: {0}")]
    UnreadableBody(String),
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidPayload(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error(
        "a valid `Authorization: Bearer <token>` header is required (TOLLGATE_API_TOKEN, or a token from `tollgate tokens create`)"
    )]
    Unauthorized,
    #[error("no snapshot for customer `{0}`")]
    UnknownCustomer(String),
    #[error("the database is not reachable")]
    Unavailable,
    /// A refusal with its own status and stable code.
    #[error("{message}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub(crate) fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::MissingHeader(_)
            | Self::InvalidHeader(..)
            | Self::UnreadableBody(_)
            | Self::InvalidJson(_)
            | Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InvalidSignature | Self::StaleTimestamp | Self::Unauthorized => {
                StatusCode::UNAUTHORIZED
            }
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidPayload(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnknownCustomer(_) => StatusCode::NOT_FOUND,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Refused { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients branch on.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::InvalidHeader(..) => "invalid_header",
            Self::InvalidSignature => "invalid_signature",
            Self::StaleTimestamp => "stale_timestamp",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnreadableBody(_) => "unreadable_body",
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidPayload(_) => "invalid_payload",
            Self::InvalidRequest(_) => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::UnknownCustomer(_) => "unknown_customer",
            Self::Unavailable => "unavailable",
            Self::Refused { code, .. } => code,
            Self::Internal(_) => "internal",
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(source) = &self {
            tracing::error!(error = %crate::error::error_chain(source.as_ref()), "request failed");
        }
        let body = Body {
            code: self.code(),
            message: self.to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::internal(error)
    }
}
