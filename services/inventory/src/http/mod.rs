//! The REST API: the products resource, the standard layer stack around
//! it, and the OpenAPI document built from the handlers.

mod products;

use std::sync::Arc;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::startup::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "switchyard inventory service", description = "Products, stock and restocking."),
    components(schemas(comms::http::Problem, comms::error::FieldViolation))
)]
struct ApiDoc;

pub fn router(state: Arc<AppState>) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(products::router())
        .with_state(state.clone())
        .split_for_parts();
    comms::http::service_router(api, openapi, vec![Arc::new(state.db.clone())])
}
