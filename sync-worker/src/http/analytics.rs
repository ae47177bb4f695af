//! `/v1/analytics`: revenue, the MRR forecast and usage patterns (role `viewer`). What each
//! figure means is in `docs/analytics.md`; the computing is in [`crate::analytics`].

use super::auth::{Authorized, min};
use super::{ApiError, AppState};
use crate::analytics::{AnalyticsError, Range, forecast, revenue, usage};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(revenue))
        .routes(routes!(forecast))
        .routes(routes!(usage))
}

fn api(error: AnalyticsError) -> ApiError {
    match error {
        AnalyticsError::Refused { code, message } => ApiError::Refused {
            status: StatusCode::BAD_REQUEST,
            code,
            message,
        },
        error @ AnalyticsError::UnknownFeature(_) => ApiError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "unknown_feature",
            message: error.to_string(),
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

/// The parameters are read as text and parsed here, so that a bad one is refused with a
/// message naming it; the document states the form each must have.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RangeParams {
    /// The first day (the first of the month eleven months ago by default).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// The day after the last (the first of next month by default).
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// `month` (default), `week` or `day`; at most 366 intervals.
    #[param(value_type = Option<String>, pattern = "^(month|week|day)$")]
    interval: Option<String>,
}

/// Per currency and interval: MRR and its movements, subscribers per plan, churn, ARPU, LTV,
/// payments and revenue, money in minor units (`docs/analytics.md`).
#[utoipa::path(
    get,
    path = "/v1/analytics/revenue",
    tag = "analytics",
    params(RangeParams),
    responses((status = 200, description = "The report", body = revenue::Report)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_query", "range_too_large"])))
)]
async fn revenue(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<RangeParams>, QueryRejection>,
) -> Result<Json<revenue::Report>, ApiError> {
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
    Ok(Json(report))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ForecastParams {
    /// Months projected (12 by default).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 36)]
    months: Option<String>,
    /// Complete months looked back at (3 by default).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 24)]
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

/// MRR projected month by month from MRR now and the recent months' gains and losses, with
/// the method and its inputs.
#[utoipa::path(
    get,
    path = "/v1/analytics/forecast",
    tag = "analytics",
    params(ForecastParams),
    responses((status = 200, description = "The forecast", body = forecast::Forecast)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_query"])))
)]
async fn forecast(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<ForecastParams>, QueryRejection>,
) -> Result<Json<forecast::Forecast>, ApiError> {
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
    Ok(Json(answer))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UsageParams {
    /// A feature of the catalog.
    #[param(value_type = String, required = true)]
    feature: Option<String>,
    /// The first day (29 days ago by default).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// The day after the last (tomorrow by default).
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// `day` (default), `week` or `month`; at most 366 intervals.
    #[param(value_type = Option<String>, pattern = "^(month|week|day)$")]
    interval: Option<String>,
}

/// One feature's units, events and customers per interval, units per customer (p50, p95,
/// max), the heaviest users, and the customers at `warn_at` or at their limit now.
#[utoipa::path(
    get,
    path = "/v1/analytics/usage",
    tag = "analytics",
    params(UsageParams),
    responses((status = 200, description = "The report", body = usage::UsageReport)),
    extensions(("x-role" = json!("viewer")), ("x-codes" = json!(["invalid_query", "range_too_large", "unknown_feature"])))
)]
async fn usage(
    State(state): State<AppState>,
    _: Authorized<min::Viewer>,
    params: Result<Query<UsageParams>, QueryRejection>,
) -> Result<Json<usage::UsageReport>, ApiError> {
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
    Ok(Json(report))
}
