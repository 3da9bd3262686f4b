//! The gRPC server every service runs: its own services plus the standard
//! health service and server reflection, so stock tooling (grpcurl,
//! grpc-health-probe, Kubernetes probes) works against any of them.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic_health::ServingStatus;

use crate::auth::{GrpcGuardLayer, Guard};
use crate::health::HealthCheck;
use crate::http::ConnectionLimits;
use crate::http::admission::{Admission, Admitted};
use crate::http::server::HTTP2_MAX_PENDING_RESETS;
use crate::shutdown::Shutdown;

/// The services one process exposes over gRPC, with their descriptor sets.
#[derive(Default)]
pub struct GrpcServices {
    routes: Routes,
    names: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    /// Checks every call but health and reflection (set by the skeleton).
    guard: Option<Arc<Guard>>,
    /// What gRPC health follows: SERVING while every required check
    /// passes (set by the skeleton: the same as `/health/ready`'s).
    readiness: Vec<Arc<dyn HealthCheck>>,
    /// Trips when shutdown starts: health turns NOT_SERVING then, not at
    /// the next readiness tick (set by the skeleton).
    draining: Option<Shutdown>,
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
    pub(crate) fn following(mut self, readiness: Vec<Arc<dyn HealthCheck>>, draining: Shutdown) -> Self {
        self.readiness = readiness;
        self.draining = Some(draining);
        self
    }

    pub(crate) fn guarded(mut self, guard: Arc<Guard>) -> Self {
        self.guard = Some(guard);
        self
    }
}

/// How often gRPC health asks the readiness checks.
pub const READINESS_EVERY: Duration = Duration::from_secs(2);

/// Serves `services` on `listener` until `shutdown` trips.
///
/// gRPC health follows readiness: every [`READINESS_EVERY`] the readiness
/// checks run, and the server (`""`) and each service report SERVING while
/// every required one passes, NOT_SERVING while one does not (a database
/// outage; a broker outage only degrades, and stays SERVING). At shutdown
/// they turn NOT_SERVING for good, first, so balancers stop sending new
/// calls while the calls in flight drain.
///
/// Connections are held to `limits` as on the HTTP port
/// ([`crate::http::serve`]): the same cap, opening deadline (here the
/// HTTP/2 preface), idle clock, header list limit, streams per connection
/// and reset-flood GOAWAY.
pub async fn serve(
    listener: TcpListener,
    services: GrpcServices,
    limits: ConnectionLimits,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
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
    let readiness = services.readiness.clone();
    let draining = services.draining.clone();
    // Resolves at shutdown, which is when tonic starts draining.
    let draining = async move {
        let report = |status| {
            let (health, names) = (health.clone(), names.clone());
            async move {
                health.set_service_status("", status).await;
                for name in names {
                    health.set_service_status(name, status).await;
                }
            }
        };
        let stopped = shutdown.wait();
        tokio::pin!(stopped);
        // From the signal on, NOT_SERVING (the `draining` readiness check
        // fails too); the listener closes later, after deregistration.
        let draining_started = async move {
            match draining {
                Some(draining) => draining.wait().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(draining_started);
        let mut draining = false;
        let mut ticks = tokio::time::interval(READINESS_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = &mut stopped => break,
                () = &mut draining_started, if !draining => {
                    draining = true;
                    report(ServingStatus::NotServing).await;
                }
                _ = ticks.tick(), if !draining => {
                    let ready = crate::health::ready(&readiness).await;
                    report(if ready { ServingStatus::Serving } else { ServingStatus::NotServing }).await;
                }
            }
        }
        report(ServingStatus::NotServing).await;
    };

    tonic::transport::Server::builder()
        .max_concurrent_streams(limits.http2_max_streams)
        .http2_max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .http2_max_pending_accept_reset_streams(Some(HTTP2_MAX_PENDING_RESETS))
        // A peer that goes silent is found by pings, and dropped.
        .http2_keepalive_interval(Some(limits.idle_timeout() / 2))
        .http2_keepalive_timeout(Some(limits.header_read_timeout()))
        // The span is created before the layers run, so metrics and the
        // handler's own spans all sit inside the caller's trace.
        .trace_fn(crate::telemetry::grpc_server_span)
        .layer(super::GrpcMetricsLayer)
        .layer(tower::util::option_layer(services.guard.map(GrpcGuardLayer::new)))
        .add_routes(services.routes)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(admitted(listener, Admission::new(limits, "grpc")), draining)
        .await?;
    Ok(())
}

/// The listener's connections as tonic takes them: admitted ones only.
fn admitted(
    listener: TcpListener,
    admission: Admission,
) -> impl futures::Stream<Item = std::io::Result<Admitted>> + Send + 'static {
    futures::stream::unfold((listener, admission), |(listener, admission)| async move {
        loop {
            match listener.accept().await {
                Ok((tcp, _)) => {
                    if let Some(admitted) = admission.admit(tcp) {
                        return Some((Ok(admitted), (listener, admission)));
                    }
                }
                Err(error) => {
                    // Out of file descriptors, say: pause rather than spin.
                    tracing::warn!(%error, "cannot accept a gRPC connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    })
}

impl Connected for Admitted {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.get_ref().connect_info()
    }
}
