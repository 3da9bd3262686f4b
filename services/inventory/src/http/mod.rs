//! The REST API: the products resource and its OpenAPI document.

mod products;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub(crate) fn api() -> OpenApiRouter<Arc<AppState>> {
    comms::http::api("switchyard inventory service", "Products, stock and restocking.").merge(products::router())
}
