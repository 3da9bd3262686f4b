//! Builds the application (pool, migrations, consumer, live feed,
//! listeners) and runs it until shutdown. Tests build exactly this, on
//! port 0.

use std::net::SocketAddr;
use std::sync::Arc;

use comms::Shutdown;
use comms::discovery::DiscoverySettings;
use comms::grpc::GrpcServices;
use comms::messaging::{Messaging, Subscription};
use comms::service::Servers;
use contracts::analytics::v1::FILE_DESCRIPTOR_SET;
use contracts::analytics::v1::analytics_service_server::AnalyticsServiceServer;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Settings;
use crate::consumer::{self, CONSUMER};
use crate::domain::Summary;
use crate::feed::Feed;
use crate::grpc::AnalyticsGrpc;
use crate::http;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What every handler shares.
pub struct AppState {
    pub db: PgPool,
}

pub struct Application {
    http: TcpListener,
    grpc: TcpListener,
    state: Arc<AppState>,
    feed: Feed,
    summaries: watch::Receiver<Summary>,
    grace: std::time::Duration,
    discovery: DiscoverySettings,
    messaging: Messaging,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let db = comms::db::pool(&settings.database_url, settings.database_max_connections).await?;
        MIGRATOR.run(&db).await?;
        let messaging = Messaging::connect(&settings.broker, CONSUMER, &db).await?;
        // The feed listens before the consumer starts, so it hears about
        // the very first event applied.
        let (feed, summaries) = Feed::start(db.clone(), &settings.database_url).await?;
        let router = consumer::router(db.clone());
        messaging.subscribe(Subscription::events(CONSUMER, &router.types()), Arc::new(router)).await?;
        let http = TcpListener::bind((settings.host.as_str(), settings.http_port)).await?;
        let grpc = TcpListener::bind((settings.host.as_str(), settings.grpc_port)).await?;
        Ok(Self {
            http,
            grpc,
            state: Arc::new(AppState { db }),
            feed,
            summaries,
            grace: settings.shutdown_grace(),
            discovery: settings.discovery.clone(),
            messaging,
        })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr().expect("bound listener has an address")
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc.local_addr().expect("bound listener has an address")
    }

    pub fn db(&self) -> &PgPool {
        &self.state.db
    }

    /// Serves REST and gRPC until `shutdown` trips, registered in discovery
    /// if configured; then drains (see `comms::service::run`). Analytics
    /// publishes nothing, so there is no outbox relay to start.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let (http_addr, grpc_addr) = (self.http_addr(), self.grpc_addr());
        tracing::info!(%http_addr, %grpc_addr, "listening");
        // The feed stops with the servers: its sender drops, open
        // StreamMetrics calls end, and the gRPC server can drain.
        let feed = tokio::spawn(self.feed.run(shutdown.clone()));
        let grpc = GrpcServices::new()
            .add(AnalyticsServiceServer::new(AnalyticsGrpc::new(self.summaries)), FILE_DESCRIPTOR_SET);
        let registry = self.discovery.consul_url().is_some().then(|| {
            let registrations = self.discovery.registrations("analytics", http_addr.port(), Some(grpc_addr.port()));
            (self.discovery.registry(), registrations)
        });
        let servers = Servers {
            http: (self.http, http::router(self.state.clone())),
            grpc: Some((self.grpc, grpc)),
            grace: self.grace,
            registry,
        };
        comms::service::run(servers, shutdown).await?;
        self.messaging.stop().await;
        let _ = feed.await;
        self.state.db.close().await;
        Ok(())
    }
}
