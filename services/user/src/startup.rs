//! Builds the application (pool, migrations, listeners) and runs it until
//! shutdown. Tests build exactly this, on port 0.

use std::net::SocketAddr;
use std::sync::Arc;

use comms::Shutdown;
use comms::discovery::DiscoverySettings;
use comms::grpc::GrpcServices;
use comms::messaging::Messaging;
use comms::service::Servers;
use contracts::user::v1::FILE_DESCRIPTOR_SET;
use contracts::user::v1::user_service_server::UserServiceServer;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::accounts;
use crate::config::Settings;
use crate::grpc::UserGrpc;
use crate::http;
use crate::tokens::TokenIssuer;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What every handler shares.
pub struct AppState {
    pub db: PgPool,
    pub tokens: TokenIssuer,
}

pub struct Application {
    http: TcpListener,
    grpc: TcpListener,
    state: Arc<AppState>,
    grace: std::time::Duration,
    discovery: DiscoverySettings,
    messaging: Messaging,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let db = comms::db::pool(&settings.database_url, settings.database_max_connections).await?;
        MIGRATOR.run(&db).await?;
        let messaging = Messaging::connect(&settings.broker, "user", &db).await?;
        let tokens = TokenIssuer::from_pem(
            &settings.jwt.private_key_pem()?,
            settings.jwt.issuer.clone(),
            settings.jwt.audience.clone(),
            settings.jwt.ttl_secs,
        )?;
        let http = TcpListener::bind((settings.host.as_str(), settings.http_port)).await?;
        let grpc = TcpListener::bind((settings.host.as_str(), settings.grpc_port)).await?;
        let state = Arc::new(AppState { db, tokens });
        if let (Some(email), Some(password)) = (&settings.seed_admin.email, &settings.seed_admin.password) {
            accounts::ensure_admin(&state, email, password).await.map_err(|e| anyhow::anyhow!("seed admin: {e}"))?;
        }
        Ok(Self {
            http,
            grpc,
            state,
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
    /// if configured; then drains (see `comms::service::run`).
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let (http_addr, grpc_addr) = (self.http_addr(), self.grpc_addr());
        tracing::info!(%http_addr, %grpc_addr, "listening");
        let grpc =
            GrpcServices::new().add(UserServiceServer::new(UserGrpc::new(self.state.clone())), FILE_DESCRIPTOR_SET);
        let registry = self.discovery.consul_url().is_some().then(|| {
            let registrations = self.discovery.registrations("user", http_addr.port(), Some(grpc_addr.port()));
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
        self.state.db.close().await;
        Ok(())
    }
}
