//! Bearer-token authentication of the `/v1` API.

use super::{ApiError, AppState};
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

/// Lets a request through only with `Authorization: Bearer <TOLLGATE_API_TOKEN>`, compared in
/// constant time.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let expected = state.api_token.expose_secret().as_bytes();
    if !bool::from(presented.trim().as_bytes().ct_eq(expected)) {
        return Err(ApiError::Unauthorized);
    }
    Ok(next.run(request).await)
}
