//! What every request meets besides its route: the answers to a path no route serves and to a
//! method a path does not take, and the refusal of a URI that decodes to U+0000 (which no id,
//! key or query value may hold: PostgreSQL's text cannot store it). Each is `{code, message}`
//! like every other refusal.

use super::ApiError;
use axum::extract::Request;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The answer to a path no route serves: 404 `not_found`.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::Refused {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: format!("no route serves `{}`", uri.path()),
    }
}

/// The answer to a method a served path does not take: 405 `method_not_allowed`.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::Refused {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: format!("`{}` does not take {method}", uri.path()),
    }
}

/// Refuses a path or query holding an encoded U+0000 with 400 `invalid_request`.
pub(crate) async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let nul = |part: &str| part.contains("%00");
    if nul(uri.path()) || uri.query().is_some_and(nul) {
        return ApiError::InvalidRequest(
            "the path or query holds U+0000 (`%00`), which no value may contain".to_owned(),
        )
        .into_response();
    }
    next.run(request).await
}
