//! Discovery settings every service shares, flattened into its own
//! settings so they read `{PREFIX}_CONSUL_URL`, `{PREFIX}_ADVERTISE_HOST`
//! and `{PREFIX}_UPSTREAMS`.

use std::sync::Arc;

use serde::Deserialize;

use super::{ConsulRegistry, GRPC_SUFFIX, HealthCheck, Registration, ServiceRegistry, StaticRegistry};
use crate::discovery::CheckKind;

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
pub struct DiscoverySettings {
    /// Consul's HTTP address (`http://consul:8500`). Unset: static discovery.
    #[serde(default)]
    pub consul_url: Option<String>,
    /// The host other services reach this one at (its compose service
    /// name, a pod IP). Default `127.0.0.1`.
    #[serde(default)]
    pub advertise_host: Option<String>,
    /// Static upstreams when there is no Consul:
    /// `user=127.0.0.1:8081;user-grpc=127.0.0.1:9081`.
    #[serde(default)]
    pub upstreams: String,
}

impl DiscoverySettings {
    /// The Consul URL, if one is configured (an empty value means none).
    pub fn consul_url(&self) -> Option<&str> {
        self.consul_url.as_deref().map(str::trim).filter(|url| !url.is_empty())
    }

    pub fn registry(&self) -> Arc<dyn ServiceRegistry> {
        match self.consul_url() {
            Some(url) => Arc::new(ConsulRegistry::new(url)),
            None => Arc::new(StaticRegistry::from_spec(&self.upstreams)),
        }
    }

    pub fn advertise_host(&self) -> String {
        self.advertise_host.clone().unwrap_or_else(|| "127.0.0.1".into())
    }

    /// The standard registrations of a service: `{name}` for its HTTP port,
    /// checked on `/health/ready`, and `{name}-grpc` for its gRPC port,
    /// checked with the gRPC health protocol.
    pub fn registrations(&self, name: &str, http_port: u16, grpc_port: Option<u16>) -> Vec<Registration> {
        let host = self.advertise_host();
        let mut registrations = vec![Registration {
            id: format!("{name}-{host}-{http_port}"),
            name: name.to_owned(),
            host: host.clone(),
            port: http_port,
            tags: vec!["http".into()],
            meta: Default::default(),
            check: HealthCheck::http(format!("http://{host}:{http_port}/health/ready")),
        }];
        if let Some(port) = grpc_port {
            let mut check = HealthCheck::http(String::new());
            check.kind = CheckKind::Grpc { address: format!("{host}:{port}"), service: String::new() };
            registrations.push(Registration {
                id: format!("{name}{GRPC_SUFFIX}-{host}-{port}"),
                name: format!("{name}{GRPC_SUFFIX}"),
                host,
                port,
                tags: vec!["grpc".into()],
                meta: Default::default(),
                check,
            });
        }
        registrations
    }
}
