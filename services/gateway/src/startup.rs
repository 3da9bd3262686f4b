//! Builds the gateway from settings, inside the skeleton `comms::service`
//! provides: no database, no broker, one public listener.

use std::sync::Arc;
use std::time::Duration;

use comms::auth::{ServiceKeys, Verifier};
use comms::discovery::ServiceRegistry;
use comms::http::{ServerLimits, with_edge_layers};
use comms::service::{Builder, Parts};

use crate::client;
use crate::config::{GATEWAY, Settings};
use crate::gateway::{Gateway, router};
use crate::rate_limit::RateLimits;
use crate::routes::RouteTable;
use crate::trusted_proxies::TrustedProxies;
use crate::{api_page, proxy, socket};

/// How often clients whose rate-limit bucket has refilled are forgotten.
const PRUNE_LIMITER_EVERY: Duration = Duration::from_secs(60);

pub type Application = comms::service::Application<Gateway>;

pub async fn build(settings: &Settings) -> anyhow::Result<Application> {
    build_with(settings, RouteTable::load(&settings.routes_file)?, settings.discovery.registry()?).await
}

/// With a given table and registry (tests pass their own).
pub async fn build_with(
    settings: &Settings,
    mut table: RouteTable,
    registry: Arc<dyn ServiceRegistry>,
) -> anyhow::Result<Application> {
    let settings = &crate::profile::in_effect(settings, &mut table)?;
    comms::http::problem::set_type_base(&settings.problem_type_base)?;
    let trusted_proxies = TrustedProxies::parse(&settings.trusted_proxies).map_err(anyhow::Error::msg)?;
    let upstreams = proxy::upstreams(table.services(), registry.as_ref(), &settings.resilience());
    let auth = &settings.auth;
    let keys = auth.user_keys(GATEWAY.prefix)?;
    // Client tokens only: the gateway is called by users, never by services.
    let verifier = Verifier::new(GATEWAY.name, keys.clone(), ServiceKeys::default(), &auth.issuer, &auth.audience);
    // The server's own timeout must not cut a route's longer one short.
    let longest = table.routes.iter().map(|r| r.timeout()).max().unwrap_or_default();
    let limits =
        ServerLimits { request_timeout: longest + Duration::from_secs(5), body_limit_bytes: settings.body_limit_bytes };
    let listener = socket::listen(&settings.host, settings.port, settings.socket_buffer_bytes)?;
    let service = settings.service();
    // The skeleton's verifier shares the gateway's keys: one fetch, one
    // cache.
    let builder = Builder::new(&service, &GATEWAY).http_listener(listener).registry(registry).user_keys(keys);
    builder
        .build(|ctx| async move {
            // The gateway checks nothing but its own drain: it is ready
            // once it listens, and not from the moment it stops.
            let health = comms::health::Checks {
                ready: vec![Arc::new(comms::health::Draining(ctx.stopping()))],
                live: Vec::new(),
            };
            let gateway = Arc::new(Gateway {
                upstreams,
                table: table.clone(),
                verifier,
                identity: ctx.identity().clone(),
                limits: Arc::new(RateLimits::new(settings.rates(), &table)),
                trusted_proxies,
                client: client::client(settings.socket_buffer_bytes),
                body_limit: settings.body_limit_bytes,
            });
            crate::rate_limit::prune_periodically(Arc::downgrade(&gateway.limits), PRUNE_LIMITER_EVERY);
            let app = router(gateway.clone(), &table)
                .merge(api_page::router(gateway.clone(), table))
                .merge(comms::health::router(health));
            Ok(Parts::with_router(gateway, with_edge_layers(app, limits)))
        })
        .await
}
