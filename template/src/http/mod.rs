//! The REST API: the items resource under `/template/` (as the gateway would
//! route it) and its OpenAPI document.

mod items;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub(crate) fn api() -> OpenApiRouter<Arc<AppState>> {
    comms::http::api(
        "switchyard template service",
        "Items: a signed-in user creates one and reads it back; only its owner or an admin sees it.",
    )
    .merge(items::router())
}
