//! Builds the application (pool, migrations, clients, subscriptions,
//! listener) and runs it until shutdown. Tests build exactly this, on port 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use comms::Shutdown;
use comms::client::UpstreamConfig;
use comms::client::http::HttpClient;
use comms::discovery::{DiscoverySettings, ServiceRegistry};
use comms::messaging::{Messaging, Subscription};
use comms::service::Servers;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::consumers::{self, Consumers};
use crate::delivery::{self, DeliveryWorker};
use crate::domain::Address;
use crate::live::{FeedListener, LiveFeed};
use crate::users::UserDirectory;
use crate::{channel, http};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What every handler shares.
pub struct AppState {
    pub db: PgPool,
    pub live: LiveFeed,
    /// How often an idle live stream gets a comment line, so proxies and
    /// clients do not take it for a dead connection.
    pub keep_alive: Duration,
}

pub struct Application {
    http: TcpListener,
    state: Arc<AppState>,
    feed: FeedListener,
    grace: Duration,
    discovery: DiscoverySettings,
    registry: Arc<dyn ServiceRegistry>,
    messaging: Messaging,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let operators = settings
            .operator_emails()
            .iter()
            .map(|e| Address::parse(e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("NOTIFICATION_OPERATOR_EMAILS: {e}"))?;
        let channel = channel::from_settings(settings)?;
        let db = comms::db::pool(&settings.database_url, settings.database_max_connections).await?;
        MIGRATOR.run(&db).await?;
        let messaging = Messaging::connect(&settings.broker, "notification", &db).await?;
        let feed = FeedListener::connect(&db).await.context("LISTEN for the live feed")?;

        // The user service's instances, watched (Consul) or configured
        // (NOTIFICATION_UPSTREAMS): no registry call on the event path.
        let registry = settings.discovery.registry();
        let users = UserDirectory::new(HttpClient::new(UpstreamConfig::new("user"), registry.watch("user")));

        // Workers first: the task queue exists before any event queues a task.
        let mut tasks = Subscription::tasks(delivery::QUEUE);
        tasks.retry_delays = settings.delivery_retry_delays();
        let worker = DeliveryWorker::new(db.clone(), channel, tasks.max_attempts());
        messaging.subscribe(tasks, Arc::new(worker)).await?;
        let router = Consumers::new(db.clone(), users, operators).router();
        messaging.subscribe(Subscription::events(consumers::CONSUMER, &router.types()), Arc::new(router)).await?;

        let http = TcpListener::bind((settings.host.as_str(), settings.http_port)).await?;
        let state = Arc::new(AppState { db, live: feed.feed(), keep_alive: settings.stream_keep_alive() });
        Ok(Self {
            http,
            state,
            feed,
            grace: settings.shutdown_grace(),
            discovery: settings.discovery.clone(),
            registry,
            messaging,
        })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr().expect("bound listener has an address")
    }

    pub fn db(&self) -> &PgPool {
        &self.state.db
    }

    /// Serves REST until `shutdown` trips, registered in discovery if
    /// configured, while consuming events, delivering tasks and feeding live
    /// streams; then drains (see `comms::service::run`).
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let http_addr = self.http_addr();
        tracing::info!(%http_addr, "listening");
        // Only HTTP is announced: this service has no gRPC API.
        let registry = self
            .discovery
            .consul_url()
            .is_some()
            .then(|| (self.registry.clone(), self.discovery.registrations("notification", http_addr.port(), None)));
        let servers =
            Servers { http: (self.http, http::router(self.state.clone())), grpc: None, grace: self.grace, registry };
        // The feed ends the live streams when shutdown trips, so the drain
        // does not wait on connections that would never finish.
        let feed = tokio::spawn(self.feed.run(shutdown.clone()));
        self.messaging.start_relay(self.state.db.clone());
        comms::service::run(servers, shutdown).await?;
        self.messaging.stop().await;
        let _ = feed.await;
        self.state.db.close().await;
        Ok(())
    }
}
