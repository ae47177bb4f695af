//! CSV exports, streamed as they are read.

use super::api;
use crate::admin::AdminError;
use crate::admin::exports::{self, Export, Range};
use crate::http::auth::{Authorized, min};
use crate::http::request::query;
use crate::http::{ApiError, AppState};
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RangeParams {
    from: Option<String>,
    to: Option<String>,
}

/// A streamed CSV export with a header row: `customers.csv`, `subscriptions.csv`, `orders.csv`,
/// `usage.csv` or `audit.csv`.
#[utoipa::path(
    get,
    path = "/v1/admin/exports/{file}",
    tag = "admin",
    params(
        ("file" = String, Path, description = "`customers.csv`, `subscriptions.csv`, `orders.csv`, `usage.csv` or `audit.csv`"),
        RangeParams,
    ),
    responses((status = 200, description = "The CSV", content_type = "text/csv", body = String)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_request", "unknown_export", "invalid_range"])))
)]
async fn export(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    Path(file): Path<String>,
    params: Result<Query<RangeParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let Some(export) = Export::from_file_name(&file) else {
        return Err(api(AdminError::refused(
            404,
            "unknown_export",
            format!(
                "no export `{file}`: customers.csv, subscriptions.csv, orders.csv, usage.csv or audit.csv"
            ),
        )));
    };
    let range = Range::parse(params.from.as_deref(), params.to.as_deref()).map_err(api)?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let pool = state.pool.clone();
    tokio::spawn(async move {
        let chunks = sender.clone();
        let written = exports::write(&pool, export, range, |bytes, _| {
            let chunks = chunks.clone();
            async move { chunks.send(Ok(Bytes::from(bytes))).await.is_ok() }
        })
        .await;
        if let Err(error) = written {
            tracing::error!(error = %crate::error::error_chain(&error), export = export.name(), "an export failed midway");
            // Ends the body with an error, so the client sees a broken transfer, not a short file.
            let _ = sender
                .send(Err(std::io::Error::other("the export failed")))
                .await;
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let disposition = format!("attachment; filename=\"{}.csv\"", export.name());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
