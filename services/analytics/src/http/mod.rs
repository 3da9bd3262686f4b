//! The REST API: the aggregates under `/analytics/` (as the gateway routes
//! them) and its OpenAPI document.

mod analytics;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub(crate) fn api() -> OpenApiRouter<Arc<AppState>> {
    comms::http::api(
        "switchyard analytics service",
        "Aggregates of every domain event: orders, revenue, sales by sku, registrations, and per-minute series. Admins only.",
    )
    .merge(analytics::router())
}
