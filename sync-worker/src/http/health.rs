//! Liveness and readiness probes.

use super::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// The process is up.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The service can do its work: the database answers.
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    crate::db::ping(&state.pool).await.map_err(|error| {
        tracing::warn!(%error, "readiness check: database unreachable");
        ApiError::Unavailable
    })?;
    Ok(Json(json!({ "status": "ready" })))
}
