//! `/v1/analytics`: revenue, the MRR forecast and usage patterns (role `viewer`). What each
//! figure means is in `docs/analytics.md`; the computing is in [`crate::analytics`].

use super::auth::{Authorized, min};
use super::{ApiError, AppState};
use crate::analytics::{AnalyticsError, Range, forecast, revenue, usage};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/analytics/revenue", get(revenue))
        .route("/v1/analytics/forecast", get(forecast))
        .route("/v1/analytics/usage", get(usage))
}

fn api(error: AnalyticsError) -> ApiError {
    match error {
        AnalyticsError::Refused { code, message } => ApiError::Refused {
            status: if code == "unknown_feature" {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::BAD_REQUEST
            },
            code,
            message,
        },
        AnalyticsError::Database(error) => ApiError::from(error),
    }
}

fn query<T>(params: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    params
        .map(|Query(params)| params)
        .map_err(|rejection| ApiError::Refused {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_query",
            message: rejection.body_text(),
        })
}

fn json(value: impl serde::Serialize) -> Result<Json<Value>, ApiError> {
    serde_json::to_value(value)
        .map(Json)
        .map_err(ApiError::internal)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeParams {
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
}

/// `GET /v1/analytics/revenue?from=&to=&interval=`.
async fn revenue(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<RangeParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = query(params)?;
    let range = Range::parse(
        p.from.as_deref(),
        p.to.as_deref(),
        p.interval.as_deref(),
        state.clock.now(),
    )
    .map_err(api)?;
    let mut conn = state.pool.acquire().await?;
    let report = revenue::report(&mut conn, Some(&state.catalog), range)
        .await
        .map_err(api)?;
    json(report)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForecastParams {
    months: Option<String>,
    lookback: Option<String>,
}

/// A whole-number parameter, or 400 `invalid_query` naming it.
fn whole(name: &str, text: Option<&str>, default: u32) -> Result<u32, ApiError> {
    text.map_or(Ok(default), |text| {
        text.parse().map_err(|_| {
            api(AnalyticsError::invalid(format!(
                "`{name}` must be a whole number, not `{text}`"
            )))
        })
    })
}

/// `GET /v1/analytics/forecast?months=&lookback=`.
async fn forecast(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<ForecastParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = query(params)?;
    let months = whole("months", p.months.as_deref(), 12)?;
    let lookback = whole("lookback", p.lookback.as_deref(), 3)?;
    let mut conn = state.pool.acquire().await?;
    let answer = forecast::forecast(
        &mut conn,
        &state.catalog,
        months,
        lookback,
        state.clock.now(),
    )
    .await
    .map_err(api)?;
    json(answer)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageParams {
    feature: Option<String>,
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
}

/// `GET /v1/analytics/usage?feature=&from=&to=&interval=`.
async fn usage(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<UsageParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = query(params)?;
    let Some(feature) = p.feature.filter(|f| !f.is_empty()) else {
        return Err(api(AnalyticsError::invalid("`feature` is required")));
    };
    let now = state.clock.now();
    let range = Range::parse_or(
        p.from.as_deref(),
        p.to.as_deref(),
        p.interval.as_deref(),
        usage::default_range(now),
    )
    .map_err(api)?;
    let mut conn = state.pool.acquire().await?;
    let report = usage::report(&mut conn, &state.catalog, &feature, range, now)
        .await
        .map_err(api)?;
    json(report)
}
