//! Liveness and readiness probes.

use super::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Probe {
    /// `ok` (healthz) or `ready` (readyz).
    status: &'static str,
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "probes",
    responses((status = 200, description = "Up", body = Probe))
)]
pub(crate) async fn healthz() -> Json<Probe> {
    Json(Probe { status: "ok" })
}

/// The service can do its work: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "probes",
    responses((status = 200, description = "Ready", body = Probe)),
    extensions(("x-codes" = json!(["unavailable"])))
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Probe>, ApiError> {
    crate::db::ping(&state.pool).await.map_err(|error| {
        tracing::warn!(%error, "readiness check: database unreachable");
        ApiError::Unavailable
    })?;
    Ok(Json(Probe { status: "ready" }))
}
