//! The REST API: one router per resource, and its OpenAPI document.

mod auth;
mod users;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub(crate) fn api() -> OpenApiRouter<Arc<AppState>> {
    comms::http::api("switchyard user service", "Accounts, credentials and login.")
        .merge(auth::router())
        .merge(users::router())
}
