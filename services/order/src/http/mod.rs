//! The REST API: the orders resource, the standard layer stack around it,
//! and the OpenAPI document built from the handlers.

mod idempotent;
mod orders;

use std::sync::Arc;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::startup::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "switchyard order service",
        description = "Placing orders (idempotently, with an Idempotency-Key), reading and cancelling them."
    ),
    components(schemas(comms::http::Problem, comms::error::FieldViolation))
)]
struct ApiDoc;

pub fn router(state: Arc<AppState>) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(orders::router())
        .with_state(state.clone())
        .split_for_parts();
    comms::http::service_router(api, openapi, vec![Arc::new(state.db.clone())])
}
