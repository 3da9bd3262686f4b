//! A built service, ready to serve.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::context::Context;
use super::parts::{Http, Parts};
use super::serve::{Servers, serve};
use crate::auth::{self, Guard};
use crate::discovery::{DiscoveryMode, DiscoverySettings};
use crate::grpc::GrpcServices;
use crate::health::{Checks, HealthCheck};
use crate::http::ConnectionLimits;
use crate::settings::ServiceSettings;
use crate::shutdown::Shutdown;

/// The sockets a service listens on, bound before it serves.
pub(super) struct Listeners {
    pub http: TcpListener,
    pub grpc: Option<TcpListener>,
    /// Internal: `/metrics` only.
    pub metrics: TcpListener,
}

pub struct Application<S> {
    state: Arc<S>,
    http: (TcpListener, Router),
    grpc: Option<(TcpListener, GrpcServices)>,
    metrics: TcpListener,
    context: Context,
    failures: mpsc::UnboundedReceiver<anyhow::Error>,
    grace: Duration,
    connections: ConnectionLimits,
    discovery: DiscoverySettings,
}

impl<S: Send + Sync + 'static> Application<S> {
    pub(super) fn new(
        settings: &ServiceSettings,
        context: Context,
        failures: mpsc::UnboundedReceiver<anyhow::Error>,
        parts: Parts<S>,
        guard: Arc<Guard>,
        listeners: Listeners,
    ) -> Self {
        let mut health = Checks::default();
        health.ready.push(Arc::new(crate::health::Draining(context.stopping.clone())));
        health.ready.extend(context.db.iter().map(|db| Arc::new(db.clone()) as Arc<dyn HealthCheck>));
        if let Some(messaging) = &context.messaging {
            let (ready, live) = messaging.health();
            health.ready.push(ready);
            health.live.push(live);
        }
        // gRPC health follows the same readiness.
        let grpc = parts
            .grpc
            .map(|services| services.guarded(guard.clone()).following(health.ready.clone(), context.stopping.clone()));
        let router = match parts.http {
            Http::Api(api, openapi) => {
                // Every route of the service's API, none of the library's
                // open ones (health, the OpenAPI document, metrics).
                let api = api.route_layer(axum::middleware::from_fn_with_state(guard.clone(), auth::authenticate));
                crate::http::service_router(api, openapi, health)
            }
            Http::Complete(router) => router,
        };
        Self {
            state: parts.state,
            http: (listeners.http, router),
            grpc: listeners.grpc.zip(grpc),
            metrics: listeners.metrics,
            context,
            failures,
            grace: settings.shutdown_grace(),
            connections: settings.connections,
            discovery: settings.discovery.clone(),
        }
    }

    /// The service's name, from its `ServiceDefaults`.
    pub fn name(&self) -> &'static str {
        self.context.name()
    }

    /// Which copy of the service this is.
    pub fn instance(&self) -> &crate::instance::InstanceId {
        self.context.instance()
    }

    pub fn state(&self) -> &Arc<S> {
        &self.state
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http.0.local_addr().expect("bound listener has an address")
    }

    /// The internal listener serving `/metrics`.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics.local_addr().expect("bound listener has an address")
    }

    /// # Panics
    /// If the service has no gRPC API.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr_if_any().expect("this service has no gRPC listener")
    }

    /// The gRPC listener's address, `None` for a service without gRPC.
    pub fn grpc_addr_if_any(&self) -> Option<SocketAddr> {
        let (listener, _) = self.grpc.as_ref()?;
        Some(listener.local_addr().expect("bound listener has an address"))
    }

    /// # Panics
    /// If the service has no database.
    pub fn db(&self) -> &PgPool {
        self.context.db()
    }

    /// Serves until `shutdown` trips or a background task fails, relaying
    /// the outbox and registered in discovery meanwhile (when configured),
    /// then stops in the order the module docs give. The cleanup runs
    /// whatever ended serving; the first error is returned after it.
    pub async fn run_until_stopped(mut self, shutdown: Shutdown) -> anyhow::Result<()> {
        let http_addr = self.http_addr();
        let grpc_addr = self.grpc_addr_if_any();
        let metrics_addr = self.metrics_addr();
        let instance = self.context.instance().clone();
        tracing::info!(%instance, %http_addr, grpc_addr = grpc_addr.map(tracing::field::display), %metrics_addr, "listening");
        let stopping = self.context.stopping.clone();
        // Only Consul is told who serves; in Kubernetes, readiness decides.
        let registry = (self.discovery.mode() == DiscoveryMode::Consul).then(|| {
            let registrations = self.discovery.registrations(&instance, http_addr.port(), grpc_addr.map(|a| a.port()));
            (self.context.registry.clone(), registrations)
        });
        if let (Some(messaging), true) = (&self.context.messaging, self.context.service.publishes) {
            messaging.start_relay(self.context.db().clone());
        }
        let servers = Servers {
            http: self.http,
            grpc: self.grpc,
            metrics: self.metrics,
            grace: self.grace,
            connections: self.connections,
            registry,
        };
        let serving = serve(servers, stopping.clone());
        tokio::pin!(serving);
        // Whatever ends serving, the same cleanup follows.
        let ended = tokio::select! {
            served = &mut serving => Ended::Served(served),
            () = shutdown.wait() => Ended::Shutdown,
            Some(error) = self.failures.recv() => Ended::Failed(error),
        };
        let served = match ended {
            Ended::Served(served) => served,
            Ended::Shutdown => {
                stopping.trigger();
                serving.await
            }
            Ended::Failed(error) => {
                tracing::error!(error = format!("{error:#}"), "a background task failed; stopping");
                stopping.trigger();
                let _ = serving.await;
                Err(error)
            }
        };
        self.context.close().await;
        served
    }
}

enum Ended {
    Served(anyhow::Result<()>),
    Shutdown,
    Failed(anyhow::Error),
}
