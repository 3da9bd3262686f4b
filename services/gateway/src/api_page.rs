//! `/api/openapi.json` (the whole system's document, aggregated from the
//! services behind the route table) and `/docs` (the API page, Swagger UI
//! with its assets compiled into the binary).

use std::sync::Arc;

use crate::gateway::Gateway;
use crate::openapi::{Cached, aggregate};
use crate::routes::RouteTable;

pub(crate) fn router(gateway: Arc<Gateway>, table: RouteTable) -> axum::Router {
    let cache = Arc::new(Cached::default());
    let http = reqwest::Client::new();
    let document = axum::routing::get(move || {
        let (gateway, table, cache, http) = (gateway.clone(), table.clone(), cache.clone(), http.clone());
        async move {
            let value = cache.get(aggregate(&table, &gateway.upstreams, &http)).await;
            axum::Json(value.as_ref().clone())
        }
    });
    let page = utoipa_swagger_ui::SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::new(["/api/openapi.json"]));
    axum::Router::new().route("/api/openapi.json", document).merge(page)
}
