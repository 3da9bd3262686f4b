//! The summary and the per-minute series. The gateway lets only admins
//! reach these; the service checks the role again, so a request that gets
//! past the gateway some other way learns nothing.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use comms::error::FieldViolation;
use comms::http::responses::{Forbidden, InvalidInput, QueryRefused, SignInRequired};
use comms::http::{ApiQuery, Caller};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db;
use crate::domain::{Metric, Series, Summary, Window};
use crate::error::AnalyticsError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(summary)).routes(routes!(series))
}

/// The parameters arrive as text and are parsed here, so a bad value is a
/// 422 naming the field, like a bad field in a body.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    /// The event type to count.
    #[param(value_type = Metric, inline)]
    metric: Option<String>,
    /// Minutes to cover, ending with the current one: 1 to 1440 (default 60).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 1440, default = 60)]
    minutes: Option<String>,
}

/// Every aggregate: registrations, orders by status, revenue, the top skus
/// by revenue and the events applied (admin only).
#[utoipa::path(get, path = "/analytics/summary", tag = "analytics",
    responses(
        (status = 200, body = Summary),
        SignInRequired, Forbidden,
    ))]
#[tracing::instrument(skip_all)]
async fn summary(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Summary>, AnalyticsError> {
    require_admin(&caller)?;
    Ok(Json(db::load_summary(&state.db).await?))
}

/// Events of one type per minute, by the time each event happened, every
/// minute present (admin only).
#[utoipa::path(get, path = "/analytics/series", tag = "analytics", params(SeriesParams),
    responses(
        (status = 200, body = Series),
        QueryRefused, SignInRequired, Forbidden, InvalidInput,
    ))]
#[tracing::instrument(skip_all)]
async fn series(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<SeriesParams>,
) -> Result<Json<Series>, AnalyticsError> {
    require_admin(&caller)?;
    let (metric, window) = parse(&params)?;
    let points = db::load_series(&state.db, metric, window).await?;
    Ok(Json(Series { metric: metric.as_str().to_owned(), minutes: window.minutes(), points }))
}

fn require_admin(caller: &Caller) -> Result<(), AnalyticsError> {
    if caller.is_admin() { Ok(()) } else { Err(AnalyticsError::Forbidden) }
}

/// Both parameters, reporting every bad one at once.
fn parse(params: &SeriesParams) -> Result<(Metric, Window), AnalyticsError> {
    let metric = match params.metric.as_deref() {
        Some(raw) => Metric::parse(raw).map_err(|reason| FieldViolation::new("metric", reason)),
        None => Err(FieldViolation::new("metric", "is required")),
    };
    let window = params
        .minutes
        .as_deref()
        .map_or(Ok(Window::DEFAULT), |raw| Window::parse(raw).map_err(|reason| FieldViolation::new("minutes", reason)));
    match (metric, window) {
        (Ok(metric), Ok(window)) => Ok((metric, window)),
        (metric, window) => Err(AnalyticsError::from(metric.err().into_iter().chain(window.err()).collect::<Vec<_>>())),
    }
}
