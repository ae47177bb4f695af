//! Stored Polar webhook deliveries: listed, and one applied again.

use super::{By, answer, api};
use crate::admin::AdminError;
use crate::db;
use crate::http::auth::{Authorized, min};
use crate::http::request::query;
use crate::http::{ApiError, AppState};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webhooks))
        .routes(routes!(replay))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct WebhookParams {
    status: Option<String>,
    limit: Option<i64>,
}

/// The newest stored webhook deliveries, or only the failed ones.
#[utoipa::path(
    get,
    path = "/v1/admin/webhooks",
    tag = "admin",
    params(
        WebhookParams,
    ),
    responses((status = 200, description = "The list", body = WebhookList)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_request"])))
)]
async fn webhooks(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<WebhookParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = query(params)?;
    let failed_only = match params.status.as_deref() {
        None | Some("") => false,
        Some("failed") => true,
        Some(other) => {
            return Err(ApiError::InvalidRequest(format!(
                "`status` is `failed` or absent, not `{other}`"
            )));
        }
    };
    let limit = params.limit.unwrap_or(50).clamp(1, 1000);
    let mut conn = state.pool.acquire().await?;
    let rows = db::webhook_events::list(&mut conn, failed_only, limit).await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            json!({
                "webhook_id": row.webhook_id,
                "type": row.event_type,
                "status": row.status,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "received_at": row.received_at,
                "next_attempt_at": row.next_attempt_at,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// Applies a stored webhook delivery again.
#[utoipa::path(
    post,
    path = "/v1/admin/webhooks/{id}/replay",
    tag = "admin",
    params(
        ("id" = String, Path, description = "The delivery's `webhook-id`"),
        ("X-Request-Id" = Option<String>, Header, description = "Recorded in the audit row and echoed; made when absent"),
    ),
    responses((status = 200, description = "Applied again", body = Replayed)),
    extensions(("x-role" = json!("support")), ("x-codes" = json!(["invalid_request", "unknown_webhook"])))
)]
async fn replay(
    State(state): State<AppState>,
    By(by, _): By<min::Support>,
    Path(webhook_id): Path<String>,
) -> Result<Response, ApiError> {
    let entry = db::audit::Entry {
        actor: &by.actor,
        role: Some(by.role),
        request_id: by.request_id.as_deref(),
        ..Default::default()
    };
    let outcome = crate::webhooks::replay_audited(
        &state.pool,
        &state.catalog,
        &webhook_id,
        &entry,
        state.clock.now(),
    )
    .await?;
    match outcome {
        Some(status) => Ok(answer(
            StatusCode::OK,
            json!({ "webhook_id": webhook_id, "status": status.as_str() }),
            &by,
        )),
        None => Err(api(AdminError::refused(
            404,
            "unknown_webhook",
            format!("no stored webhook has id `{webhook_id}`"),
        ))),
    }
}

/// A replay's answer.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct Replayed {
    webhook_id: String,
    /// The delivery's status after the replay.
    status: String,
}

/// A stored webhook delivery.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct WebhookDelivery {
    webhook_id: String,
    /// The event's type, such as `subscription.updated`.
    #[schema(rename = "type")]
    kind: String,
    /// `pending`, `applied`, `failed` or `ignored`.
    status: String,
    attempts: i32,
    last_error: Option<String>,
    received_at: String,
    next_attempt_at: Option<String>,
}

/// Stored webhook deliveries, newest first.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "the document's description of the answer")]
struct WebhookList {
    items: Vec<WebhookDelivery>,
}
