//! Discovery settings every service shares, flattened into its own
//! settings so they read `{PREFIX}_CONSUL_URL`, `{PREFIX}_ADVERTISE_HOST`
//! and `{PREFIX}_UPSTREAMS`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::{ConsulRegistry, GRPC_SUFFIX, HealthCheck, Registration, ServiceRegistry, StaticRegistry};
use crate::discovery::CheckKind;
use crate::instance::InstanceId;

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
pub struct DiscoverySettings {
    /// Consul's HTTP address (`http://consul:8500`). Unset: static discovery.
    #[serde(default)]
    pub consul_url: Option<String>,
    /// The host other services reach this one at (a pod IP, a name only
    /// this instance answers to). Unset: its own address on the network it
    /// shares with Consul, so that copies of one service (compose's
    /// `--scale`) each advertise their own; `127.0.0.1` without Consul.
    #[serde(default)]
    pub advertise_host: Option<String>,
    /// Static upstreams when there is no Consul:
    /// `user=127.0.0.1:8081;user-grpc=127.0.0.1:9081`.
    #[serde(default)]
    pub upstreams: String,
    /// How long Consul keeps an instance whose check has stayed critical
    /// before removing it (a crashed process that never deregistered).
    /// Default 60 s, Consul's own minimum.
    #[serde(default)]
    pub deregister_critical_after_secs: Option<u64>,
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
        if let Some(host) = self.advertise_host.as_deref().map(str::trim).filter(|host| !host.is_empty()) {
            return host.to_owned();
        }
        self.consul_url().and_then(own_address_towards).unwrap_or_else(|| "127.0.0.1".into())
    }

    /// The standard registrations of an instance: under its service's name
    /// for its HTTP port, checked on `/health/ready`, and under `{name}-grpc`
    /// for its gRPC port, checked with the gRPC health protocol. Their ids
    /// are the instance's own (`inventory-3f9c2a71`,
    /// `inventory-grpc-3f9c2a71`): never the host and port, which replicas
    /// behind one advertised name share.
    pub fn registrations(&self, instance: &InstanceId, http_port: u16, grpc_port: Option<u16>) -> Vec<Registration> {
        let (name, host) = (instance.service(), self.advertise_host());
        let meta = HashMap::from([("instance".to_owned(), instance.to_string())]);
        let critical_after = self.deregister_critical_after();
        let mut http_check = HealthCheck::http(format!("http://{host}:{http_port}/health/ready"));
        http_check.deregister_critical_after = critical_after;
        let mut registrations = vec![Registration {
            id: instance.to_string(),
            name: name.to_owned(),
            host: host.clone(),
            port: http_port,
            tags: vec!["http".into()],
            meta: meta.clone(),
            check: http_check,
        }];
        if let Some(port) = grpc_port {
            let mut check = HealthCheck::http(String::new());
            check.kind = CheckKind::Grpc { address: format!("{host}:{port}"), service: String::new() };
            check.deregister_critical_after = critical_after;
            registrations.push(Registration {
                id: format!("{name}{GRPC_SUFFIX}-{}", instance.suffix()),
                name: format!("{name}{GRPC_SUFFIX}"),
                host,
                port,
                tags: vec!["grpc".into()],
                meta,
                check,
            });
        }
        registrations
    }

    /// Refuses, by name, a setting that cannot work.
    pub fn validate(&self, prefix: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.deregister_critical_after_secs != Some(0),
            "{prefix}DEREGISTER_CRITICAL_AFTER_SECS must be above 0: a failing check would remove the instance at once"
        );
        Ok(())
    }

    pub fn deregister_critical_after(&self) -> Duration {
        Duration::from_secs(self.deregister_critical_after_secs.unwrap_or(60))
    }
}

/// The address this machine sends from to reach `url`'s host: in a
/// container, its own address on the network it shares with Consul. A UDP
/// socket that `connect`s sends nothing; the kernel only picks the route.
fn own_address_towards(url: &str) -> Option<String> {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest).split('/').next()?;
    let authority = if authority.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let target = std::net::ToSocketAddrs::to_socket_addrs(&authority).ok()?.next()?;
    let socket = std::net::UdpSocket::bind(if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).ok()?;
    socket.connect(target).ok()?;
    Some(socket.local_addr().ok()?.ip().to_string())
}

#[cfg(test)]
mod tests {
    use super::DiscoverySettings;

    #[test]
    fn unset_the_advertise_host_is_the_address_that_reaches_consul() {
        let local = DiscoverySettings { consul_url: Some("http://127.0.0.1:8500".into()), ..Default::default() };
        assert_eq!(local.advertise_host(), "127.0.0.1");
        let set = DiscoverySettings { advertise_host: Some("inventory-2".into()), ..local.clone() };
        assert_eq!(set.advertise_host(), "inventory-2", "a configured host wins");
        assert_eq!(DiscoverySettings::default().advertise_host(), "127.0.0.1", "no Consul: loopback");
    }
}
