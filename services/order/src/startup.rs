//! Builds the application (pool, migrations, messaging, upstream clients,
//! listeners) and runs it until shutdown. Tests build exactly this, on
//! port 0.

use std::net::SocketAddr;
use std::sync::Arc;

use comms::Shutdown;
use comms::discovery::{DiscoverySettings, ServiceRegistry};
use comms::grpc::GrpcServices;
use comms::messaging::{Messaging, Subscription};
use comms::service::Servers;
use contracts::order::v1::FILE_DESCRIPTOR_SET;
use contracts::order::v1::order_service_server::OrderServiceServer;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::grpc::OrderGrpc;
use crate::upstream::Upstreams;
use crate::{consumers, http};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What every handler shares.
pub struct AppState {
    pub db: PgPool,
    pub upstreams: Upstreams,
}

pub struct Application {
    http: TcpListener,
    grpc: TcpListener,
    state: Arc<AppState>,
    grace: std::time::Duration,
    discovery: DiscoverySettings,
    registry: Arc<dyn ServiceRegistry>,
    messaging: Messaging,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let db = comms::db::pool(&settings.database_url, settings.database_max_connections).await?;
        MIGRATOR.run(&db).await?;
        let messaging = Messaging::connect(&settings.broker, "order", &db).await?;
        // Subscribed before the listeners open, so inventory's answers are
        // routed to our queue from the first order on.
        let router = consumers::router(db.clone());
        messaging.subscribe(Subscription::events("order", &router.types()), Arc::new(router)).await?;
        // One registry for both: it watches the upstreams and, with Consul,
        // announces this instance.
        let registry = settings.discovery.registry();
        let upstreams = Upstreams::new(registry.as_ref(), settings.upstream_timeout());
        let http = TcpListener::bind((settings.host.as_str(), settings.http_port)).await?;
        let grpc = TcpListener::bind((settings.host.as_str(), settings.grpc_port)).await?;
        Ok(Self {
            http,
            grpc,
            state: Arc::new(AppState { db, upstreams }),
            grace: settings.shutdown_grace(),
            discovery: settings.discovery.clone(),
            registry,
            messaging,
        })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr().expect("bound listener has an address")
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc.local_addr().expect("bound listener has an address")
    }

    /// Serves REST and gRPC until `shutdown` trips, registered in discovery
    /// if configured, relaying the outbox meanwhile; then drains (see
    /// `comms::service::run`) and stops messaging.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let (http_addr, grpc_addr) = (self.http_addr(), self.grpc_addr());
        tracing::info!(%http_addr, %grpc_addr, "listening");
        let grpc =
            GrpcServices::new().add(OrderServiceServer::new(OrderGrpc::new(self.state.clone())), FILE_DESCRIPTOR_SET);
        let registry = self.discovery.consul_url().is_some().then(|| {
            let registrations = self.discovery.registrations("order", http_addr.port(), Some(grpc_addr.port()));
            (self.registry.clone(), registrations)
        });
        let servers = Servers {
            http: (self.http, http::router(self.state.clone())),
            grpc: Some((self.grpc, grpc)),
            grace: self.grace,
            registry,
        };
        self.messaging.start_relay(self.state.db.clone());
        let served = comms::service::run(servers, shutdown).await;
        self.messaging.stop().await;
        self.state.db.close().await;
        served
    }
}
