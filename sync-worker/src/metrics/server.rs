//! `GET /metrics` on its own listener (`TOLLGATE_METRICS_LISTEN`), kept off the public API's
//! port so that scraping needs no token and the API exposes nothing operational. Alongside it,
//! a sampler sets the queue-depth gauges and keeps the recorder's histograms drained.

use crate::db;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use std::time::Duration;
use tokio::net::TcpListener;

/// How often queue depths are counted: a few indexed counts, cheap at this pace.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(15);

/// Serves `/metrics` on `listener` until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, handle: PrometheusHandle) -> std::io::Result<()> {
    let router = Router::new()
        .route("/metrics", get(render))
        .with_state(handle);
    axum::serve(listener, router).await
}

async fn render(State(handle): State<PrometheusHandle>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

/// Samples the depth gauges every [`SAMPLE_EVERY`] until the task is dropped.
pub(crate) async fn sample_forever(pool: PgPool, handle: PrometheusHandle) {
    let (pool, handle) = (&pool, &handle);
    crate::pace::every(SAMPLE_EVERY, move || async move {
        if let Err(error) = sample(pool).await {
            tracing::debug!(error = %error, "sampling queue depths failed");
        }
        handle.run_upkeep();
    })
    .await
}

/// Sets the inbox and outbox depth gauges from the database.
async fn sample(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let (_, pending) = db::webhook_events::pending_backlog(&mut conn).await?;
    super::inbox_depth(pending);
    for (outbox, waiting) in db::publish_outbox::depths(&mut conn).await? {
        super::outbox_depth(outbox, waiting);
    }
    super::outbox_depth("alerts", db::alert_outbox::depth(&mut conn).await?);
    super::outbox_depth("events", db::app_events::depth(&mut conn).await?);
    Ok(())
}
