//! The REST API: the notifications resource and its OpenAPI document.

mod notifications;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub(crate) fn api() -> OpenApiRouter<Arc<AppState>> {
    comms::http::api("switchyard notification service", "A user's notifications, listed and streamed live.")
        .merge(notifications::router())
}
