//! The REST API: the orders resource and its OpenAPI document.

mod idempotent;
mod orders;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub(crate) fn api() -> OpenApiRouter<Arc<AppState>> {
    comms::http::api(
        "switchyard order service",
        "Placing orders (idempotently, with an Idempotency-Key), reading and cancelling them.",
    )
    .merge(orders::router())
}
