//! The REST API: the aggregates under `/analytics/` (as the gateway routes
//! them), the standard layer stack, and the OpenAPI document.

mod analytics;

use std::sync::Arc;

use axum::Router;
use comms::http::{ServerLimits, with_standard_layers};
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
    let openapi = Arc::new(openapi);
    let service_routes = api
        .route("/openapi.json", axum::routing::get(move || std::future::ready(axum::Json(openapi.as_ref().clone()))))
        .merge(comms::health::router(vec![Arc::new(state.db.clone())]))
        .merge(comms::prometheus::router());
    with_standard_layers(service_routes, ServerLimits::default())
}
