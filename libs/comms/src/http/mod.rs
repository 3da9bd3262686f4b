//! HTTP server plumbing shared by every service.

/// `AsyncWrite` for a socket wrapper whose writes go straight to its
/// `inner` socket (the wrappers here only watch or filter what is read).
macro_rules! write_through {
    ($wrapper:ident) => {
        impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<T> {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let written = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
                self.written(written)
            }

            fn poll_write_vectored(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let written = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
                self.written(written)
            }

            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }

            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
            }
        }
    };
}
use write_through;

pub(crate) mod admission;
pub mod caller;
pub mod client_address;
mod clock;
pub mod connection_limits;
pub mod extract;
pub mod framing;
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
pub use page::{PageParams, PageSize};
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
