//! Service discovery: where the instances of a service are, kept current.
//!
//! A [`ServiceRegistry`] registers this process, finds others and watches
//! them. Three implementations: [`ConsulRegistry`] over Consul's HTTP API
//! (in compose), [`DnsRegistry`] over the SRV records of Kubernetes
//! headless Services (in a cluster), and [`StaticRegistry`] from
//! configuration (`just dev`, tests); [`DiscoverySettings`] picks one.
//! [`Balancer`] turns a watched instance set into one pick per call.

mod balancer;
mod consul;
mod dns;
mod lifecycle;
mod settings;
mod static_registry;
mod watches;

use std::collections::HashMap;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::watch;

pub use balancer::{BalanceStrategy, Balancer, EjectionConfig, NoInstances, Picked};
pub use consul::ConsulRegistry;
pub use dns::{DnsRegistry, srv_name};
pub use lifecycle::register_until;
pub use settings::{DiscoveryMode, DiscoverySettings};
pub use static_registry::StaticRegistry;

/// One running copy of a service.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    pub id: String,
    pub service: String,
    /// `host:port`.
    pub address: String,
    pub tags: Vec<String>,
    pub meta: Vec<(String, String)>,
}

/// What a service's gRPC port is registered under, after its name:
/// `inventory-grpc`.
pub const GRPC_SUFFIX: &str = "-grpc";

/// The service a registration belongs to: `inventory` for `inventory-grpc`.
pub fn service_of(registration: &str) -> &str {
    registration.strip_suffix(GRPC_SUFFIX).unwrap_or(registration)
}

/// A set of one instance at a fixed `host:port` that never changes, for
/// clients given an address instead of a service name. (A receiver keeps
/// the last value after its sender is gone.)
pub fn fixed(service: &str, address: &str) -> watch::Receiver<Vec<Instance>> {
    let instance = Instance {
        id: address.to_owned(),
        service: service.to_owned(),
        address: address.to_owned(),
        tags: Vec::new(),
        meta: Vec::new(),
    };
    watch::channel(vec![instance]).1
}

/// How this process announces itself.
#[derive(Clone, Debug)]
pub struct Registration {
    pub id: String,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tags: Vec<String>,
    pub meta: HashMap<String, String>,
    pub check: HealthCheck,
}

/// How the registry decides the instance is healthy.
#[derive(Clone, Debug)]
pub struct HealthCheck {
    pub kind: CheckKind,
    /// Default 10 s: a dead instance leaves the passing set within one
    /// interval, and the check costs the instance one request per interval.
    pub interval: Duration,
    pub timeout: Duration,
    /// An instance critical this long is removed entirely (default 1 min),
    /// so crashed processes do not linger in the catalog.
    pub deregister_critical_after: Duration,
}

#[derive(Clone, Debug)]
pub enum CheckKind {
    /// GET this URL; 2xx is passing.
    Http(String),
    /// The standard gRPC health service at `host:port`, for `service`.
    Grpc { address: String, service: String },
}

impl HealthCheck {
    pub fn http(url: impl Into<String>) -> Self {
        Self {
            kind: CheckKind::Http(url.into()),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            deregister_critical_after: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("registry unreachable: {0}")]
    Unreachable(String),
    #[error("registry refused the request: {0}")]
    Rejected(String),
}

/// Register, deregister, discover and watch.
pub trait ServiceRegistry: Send + Sync + 'static {
    /// Announces an instance. Registering the same id again updates it.
    fn register<'a>(&'a self, registration: &'a Registration) -> BoxFuture<'a, Result<(), DiscoveryError>>;

    fn deregister<'a>(&'a self, instance_id: &'a str) -> BoxFuture<'a, Result<(), DiscoveryError>>;

    /// Whether the registry still has `instance_id`, passing or not. A
    /// registry that restarted empty, or an agent that lost its state, has
    /// forgotten it: [`register_until`] asks every check interval and
    /// registers again.
    fn is_registered<'a>(&'a self, instance_id: &'a str) -> BoxFuture<'a, Result<bool, DiscoveryError>>;

    /// The instances of `service` that pass their health checks, now.
    fn discover<'a>(&'a self, service: &'a str) -> BoxFuture<'a, Result<Vec<Instance>, DiscoveryError>>;

    /// A live view of `service`'s passing instances. The receiver keeps the
    /// last known good set while the registry is unreachable.
    fn watch(&self, service: &str) -> watch::Receiver<Vec<Instance>>;
}
