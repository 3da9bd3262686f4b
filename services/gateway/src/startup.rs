//! Builds the gateway from settings and runs it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use comms::Shutdown;
use comms::discovery::{BalanceStrategy, Balancer, EjectionConfig, ServiceRegistry};
use comms::http::{ServerLimits, with_standard_layers};
use comms::resilience::{BreakerConfig, CircuitBreaker};
use comms::service::Servers;
use jsonwebtoken::jwk::JwkSet;
use tokio::net::TcpListener;

use crate::auth::{FetchKeys, Verifier};
use crate::config::Settings;
use crate::gateway::{Gateway, router};
use crate::proxy::{self, Upstream};
use crate::rate_limit::ClientLimiter;
use crate::routes::RouteTable;

/// How often clients whose rate-limit bucket has refilled are forgotten.
const PRUNE_LIMITER_EVERY: Duration = Duration::from_secs(60);

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    grace: Duration,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let table = RouteTable::load(&settings.routes_file)?;
        Self::build_with(settings, table, settings.discovery.registry()).await
    }

    /// With a given table and registry (tests pass their own).
    pub async fn build_with(
        settings: &Settings,
        table: RouteTable,
        registry: Arc<dyn ServiceRegistry>,
    ) -> anyhow::Result<Self> {
        let mut upstreams = HashMap::new();
        let mut services = table.services();
        services.push(settings.jwks_service.clone());
        services.sort();
        services.dedup();
        for service in services {
            // Watched once here; picking an instance reads the watch, so no
            // registry call is ever made on the request path.
            let balancer = Balancer::new(
                service.clone(),
                registry.watch(&service),
                BalanceStrategy::PowerOfTwoChoices,
                EjectionConfig::default(),
            );
            let breaker = CircuitBreaker::new(format!("gateway->{service}"), BreakerConfig::default());
            upstreams.insert(service, Upstream { balancer, breaker });
        }
        let jwks = jwks_fetcher(registry.watch(&settings.jwks_service));
        let verifier = Verifier::new(
            jwks,
            &settings.jwt_issuer,
            &settings.jwt_audience,
            Duration::from_secs(settings.jwks_min_refresh_secs),
        );
        let gateway = Arc::new(Gateway {
            upstreams,
            table: table.clone(),
            verifier,
            limiter: Arc::new(ClientLimiter::new(settings.rate_per_second, settings.rate_burst)),
            client: proxy::client(settings.socket_buffer_bytes),
            body_limit: settings.body_limit_bytes,
        });
        crate::rate_limit::prune_periodically(Arc::downgrade(&gateway.limiter), PRUNE_LIMITER_EVERY);
        // The server's own timeout must not cut a route's longer one short.
        let longest = table.routes.iter().map(|r| r.timeout()).max().unwrap_or_default();
        let limits = ServerLimits {
            request_timeout: longest + Duration::from_secs(5),
            body_limit_bytes: settings.body_limit_bytes,
        };
        let app = router(gateway.clone(), &table)
            .merge(api_docs(gateway, table.clone()))
            .merge(comms::health::router(Vec::new()))
            .merge(comms::prometheus::router());
        let listener = listen(&settings.host, settings.port, settings.socket_buffer_bytes)?;
        Ok(Self {
            listener,
            router: with_standard_layers(app, limits),
            grace: Duration::from_secs(settings.shutdown_grace_secs),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        tracing::info!(http_addr = %self.addr(), "listening");
        let servers = Servers { http: (self.listener, self.router), grpc: None, grace: self.grace, registry: None };
        comms::service::run(servers, shutdown).await
    }
}

/// `/api/openapi.json` (the aggregated document) and `/docs` (the API
/// page, Swagger UI with its assets compiled into the binary).
fn api_docs(gateway: Arc<Gateway>, table: RouteTable) -> axum::Router {
    let cache = Arc::new(crate::openapi::Cached::default());
    let http = reqwest::Client::new();
    let document = axum::routing::get(move || {
        let (gateway, table, cache, http) = (gateway.clone(), table.clone(), cache.clone(), http.clone());
        async move {
            let value = cache.get(crate::openapi::aggregate(&table, &gateway.upstreams, &http)).await;
            axum::Json(value.as_ref().clone())
        }
    });
    let page = utoipa_swagger_ui::SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::new(["/api/openapi.json"]));
    axum::Router::new().route("/api/openapi.json", document).merge(page)
}

/// Binds the public listener; accepted sockets inherit its buffer sizes.
fn listen(host: &str, port: u16, buffer: Option<u32>) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(host.parse()?, port);
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    if let Some(size) = buffer {
        socket.set_recv_buffer_size(size)?;
        socket.set_send_buffer_size(size)?;
    }
    socket.bind(addr)?;
    Ok(socket.listen(1024)?)
}

/// Fetches the JWK Set from an instance of the user service.
fn jwks_fetcher(instances: tokio::sync::watch::Receiver<Vec<comms::discovery::Instance>>) -> FetchKeys {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().expect("reqwest client");
    Box::new(move || {
        let http = http.clone();
        let instance = instances.borrow().first().cloned();
        Box::pin(async move {
            let instance =
                instance.ok_or_else(|| anyhow::anyhow!("no instance of the user service to fetch keys from"))?;
            let url = format!("http://{}/.well-known/jwks.json", instance.address);
            Ok(http.get(url).send().await?.error_for_status()?.json::<JwkSet>().await?)
        })
    })
}
