//! The REST API: the aggregates under `/analytics/` (as the gateway routes
//! them), the standard layer stack, and the OpenAPI document.

mod analytics;

use std::sync::Arc;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::startup::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "switchyard analytics service",
        description = "Aggregates of every domain event: orders, revenue, sales by sku, registrations, and per-minute series. Admins only."
    ),
    components(schemas(comms::http::Problem, comms::error::FieldViolation))
)]
struct ApiDoc;

pub fn router(state: Arc<AppState>) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(analytics::router())
        .with_state(state.clone())
        .split_for_parts();
    comms::http::service_router(api, openapi, vec![Arc::new(state.db.clone())])
}
