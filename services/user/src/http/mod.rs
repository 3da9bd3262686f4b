//! The REST API: one router per resource, the standard layer stack around
//! all of them, and the OpenAPI document built from the handlers.

mod auth;
mod users;

use std::sync::Arc;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::startup::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "switchyard user service", description = "Accounts, credentials and login."),
    components(schemas(comms::http::Problem, comms::error::FieldViolation))
)]
struct ApiDoc;

pub fn router(state: Arc<AppState>) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(users::router())
        .with_state(state.clone())
        .split_for_parts();
    comms::http::service_router(api, openapi, vec![Arc::new(state.db.clone())])
}
