//! Serving the listeners from start to drained exit.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::discovery::{Registration, ServiceRegistry, register_until};
use crate::grpc::GrpcServices;
use crate::http::{ConnectionLimits, ServerLimits};
use crate::shutdown::Shutdown;

pub(super) struct Servers {
    pub http: (TcpListener, Router),
    pub grpc: Option<(TcpListener, GrpcServices)>,
    /// The internal listener for `/metrics`.
    pub metrics: TcpListener,
    /// How long requests in flight may run on after shutdown starts.
    pub grace: Duration,
    /// What one client connection may hold, on the HTTP and gRPC ports.
    pub connections: ConnectionLimits,
    /// Where to announce this process, if anywhere.
    pub registry: Option<(Arc<dyn ServiceRegistry>, Vec<Registration>)>,
}

/// Serves until `shutdown` trips. Then, in order: deregister, stop
/// accepting (gRPC health turns NOT_SERVING), and let requests in flight
/// finish within the grace period.
pub(super) async fn serve(servers: Servers, shutdown: Shutdown) -> anyhow::Result<()> {
    let stop = match servers.registry {
        Some((registry, registrations)) => register_until(registry, registrations, shutdown).await,
        None => shutdown,
    };
    let (http_listener, router) = servers.http;
    let http = async {
        crate::http::serve(http_listener, router, servers.connections, stop.clone().wait())
            .await
            .map_err(anyhow::Error::from)
    };
    let grpc = async {
        match servers.grpc {
            Some((listener, services)) => {
                crate::grpc::serve(listener, services, servers.connections, stop.clone()).await
            }
            None => Ok(()),
        }
    };
    let metrics = async {
        let router = crate::http::with_standard_layers(crate::prometheus::router(), ServerLimits::default());
        crate::http::serve(servers.metrics, router, servers.connections, stop.clone().wait())
            .await
            .map_err(anyhow::Error::from)
    };
    let both = async { tokio::try_join!(http, grpc, metrics).map(|_| ()) };
    tokio::pin!(both);
    tokio::select! {
        result = &mut both => result,
        () = stop.clone().wait() => {
            match tokio::time::timeout(servers.grace, &mut both).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(grace_secs = servers.grace.as_secs(), "requests still running at the end of the grace period");
                    Ok(())
                }
            }
        }
    }
}
