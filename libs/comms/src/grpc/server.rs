//! The gRPC server every service runs: its own services plus the standard
//! health service and server reflection, so stock tooling (grpcurl,
//! grpc-health-probe, Kubernetes probes) works against any of them.

use std::convert::Infallible;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::auth::{GrpcGuardLayer, Guard};
use crate::shutdown::Shutdown;

/// The services one process exposes over gRPC, with their descriptor sets.
#[derive(Default)]
pub struct GrpcServices {
    routes: Routes,
    names: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    /// Checks every call but health and reflection (set by the skeleton).
    guard: Option<Arc<Guard>>,
}

impl GrpcServices {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a service; `descriptor_set` is the encoded set from `contracts`.
    pub fn add<S>(mut self, service: S, descriptor_set: &'static [u8]) -> Self
    where
        S: tower::Service<http::Request<tonic::body::Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.routes = self.routes.add_service(service);
        self.names.push(S::NAME);
        self.descriptor_sets.push(descriptor_set);
        self
    }

    /// Every call checked by `guard` before it reaches a service.
    pub(crate) fn guarded(mut self, guard: Arc<Guard>) -> Self {
        self.guard = Some(guard);
        self
    }
}

/// Serves `services` on `listener` until `shutdown` trips. Health turns to
/// NOT_SERVING first, so balancers stop sending new calls while the calls
/// in flight drain.
pub async fn serve(listener: TcpListener, services: GrpcServices, shutdown: Shutdown) -> anyhow::Result<()> {
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in &services.names {
        health.set_service_status(name, ServingStatus::Serving).await;
    }

    let reflection = || {
        let builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        services.descriptor_sets.iter().fold(builder, |builder, set| builder.register_encoded_file_descriptor_set(set))
    };
    // Both versions of reflection: grpcio's reflection client and older
    // grpcurl releases ask only for v1alpha.
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let names = services.names.clone();
    let draining = async move {
        shutdown.wait().await;
        health.set_service_status("", ServingStatus::NotServing).await;
        for name in names {
            health.set_service_status(name, ServingStatus::NotServing).await;
        }
    };

    tonic::transport::Server::builder()
        // The span is created before the layers run, so metrics and the
        // handler's own spans all sit inside the caller's trace.
        .trace_fn(crate::telemetry::grpc_server_span)
        .layer(super::GrpcMetricsLayer)
        .layer(tower::util::option_layer(services.guard.map(GrpcGuardLayer::new)))
        .add_routes(services.routes)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        // TCP_NODELAY: HTTP/2 writes a response as several small frames, and
        // with Nagle's algorithm on, the last of them can wait for the
        // client's delayed ACK (up to 40 ms on Linux): a p99 of 40 ms for a
        // call that takes one.
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), draining)
        .await?;
    Ok(())
}
