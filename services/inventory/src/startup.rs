//! Builds the application (pool, migrations, stock feed, consumers,
//! listeners) and runs it until shutdown. Tests build exactly this, on
//! port 0, and may build two against one database to act as replicas.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use comms::Shutdown;
use comms::discovery::DiscoverySettings;
use comms::grpc::GrpcServices;
use comms::messaging::{Messaging, Subscription};
use comms::service::Servers;
use contracts::inventory::v1::FILE_DESCRIPTOR_SET;
use contracts::inventory::v1::inventory_service_server::InventoryServiceServer;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::grpc::InventoryGrpc;
use crate::stock_feed::StockFeed;
use crate::{consumers, http, seed};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What every handler and consumer shares.
pub struct AppState {
    pub db: PgPool,
    pub feed: StockFeed,
    pub low_stock_threshold: i64,
    /// Messages this instance has handled (duplicates included).
    pub events_handled: Arc<AtomicU64>,
}

pub struct Application {
    http: TcpListener,
    grpc: TcpListener,
    state: Arc<AppState>,
    grace: std::time::Duration,
    discovery: DiscoverySettings,
    messaging: Messaging,
    feed_task: JoinHandle<()>,
    stop_feed: Shutdown,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let db = comms::db::pool(&settings.database_url, settings.database_max_connections).await?;
        MIGRATOR.run(&db).await?;
        if settings.seed_demo_products {
            seed::demo_products(&db).await?;
        }
        let messaging = Messaging::connect(&settings.broker, "inventory", &db).await?;
        // The feed listens before anything can change stock, so a watcher
        // misses nothing committed after start-up.
        let stop_feed = Shutdown::new();
        let (feed, feed_task) = StockFeed::start(&db, settings.watch_buffer, stop_feed.clone()).await?;
        let http = TcpListener::bind((settings.host.as_str(), settings.http_port)).await?;
        let grpc = TcpListener::bind((settings.host.as_str(), settings.grpc_port)).await?;
        let state = Arc::new(AppState {
            db,
            feed,
            low_stock_threshold: i64::from(settings.low_stock_threshold),
            events_handled: Arc::new(AtomicU64::new(0)),
        });
        let router = consumers::router(state.clone());
        messaging.subscribe(Subscription::events("inventory", &router.types()), Arc::new(router)).await?;
        Ok(Self {
            http,
            grpc,
            state,
            grace: settings.shutdown_grace(),
            discovery: settings.discovery.clone(),
            messaging,
            feed_task,
            stop_feed,
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

    /// How many messages this instance has handled so far.
    pub fn events_handled(&self) -> Arc<AtomicU64> {
        self.state.events_handled.clone()
    }

    /// Serves REST and gRPC until `shutdown` trips, registered in discovery
    /// if configured; then drains (see `comms::service::run`), stops
    /// consuming and relaying, and closes the pool.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let (http_addr, grpc_addr) = (self.http_addr(), self.grpc_addr());
        tracing::info!(%http_addr, %grpc_addr, "listening");
        // Watch streams never end on their own; they end at shutdown so
        // the drain does not wait the whole grace period for them.
        let grpc = GrpcServices::new().add(
            InventoryServiceServer::new(InventoryGrpc::new(self.state.clone(), shutdown.clone())),
            FILE_DESCRIPTOR_SET,
        );
        let registry = self.discovery.consul_url().is_some().then(|| {
            let registrations = self.discovery.registrations("inventory", http_addr.port(), Some(grpc_addr.port()));
            (self.discovery.registry(), registrations)
        });
        let servers = Servers {
            http: (self.http, http::router(self.state.clone())),
            grpc: Some((self.grpc, grpc)),
            grace: self.grace,
            registry,
        };
        self.messaging.start_relay(self.state.db.clone());
        comms::service::run(servers, shutdown).await?;
        self.messaging.stop().await;
        self.stop_feed.trigger();
        let _ = self.feed_task.await;
        self.state.db.close().await;
        Ok(())
    }
}
