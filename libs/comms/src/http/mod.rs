//! HTTP server plumbing shared by every service.

pub(crate) mod admission;
pub mod caller;
mod clock;
pub mod connection_limits;
pub mod extract;
pub mod metrics;
pub mod page;
pub mod problem;
pub mod request_id;
pub mod responses;
pub mod server;
pub mod trace;

#[doc(hidden)]
pub use axum as __axum; // for `service_error!` in crates that name no axum
pub use caller::Caller;
pub use connection_limits::ConnectionLimits;
pub use extract::{ApiJson, ApiQuery};
pub use page::PageSize;
pub use problem::Problem;
pub use server::{ServerLimits, serve, service_router, with_edge_layers, with_standard_layers};

/// The start of a service's REST API: an OpenAPI router whose document
/// names the service and already holds the problem schemas every error
/// response refers to.
pub fn api<S: Clone + Send + Sync + 'static>(title: &str, description: &str) -> utoipa_axum::router::OpenApiRouter<S> {
    use utoipa::openapi::{ComponentsBuilder, InfoBuilder, LicenseBuilder, OpenApiBuilder};
    let info = InfoBuilder::new()
        .title(title)
        .description(Some(description))
        .version(env!("CARGO_PKG_VERSION"))
        .license(Some(LicenseBuilder::new().name(env!("CARGO_PKG_LICENSE")).build()));
    let components =
        ComponentsBuilder::new().schema_from::<Problem>().schema_from::<crate::error::FieldViolation>().build();
    utoipa_axum::router::OpenApiRouter::with_openapi(
        OpenApiBuilder::new().info(info).components(Some(components)).build(),
    )
}
