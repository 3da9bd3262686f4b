//! Discovery settings every service shares, flattened into its own
//! settings so they read `{PREFIX}_DISCOVERY`, `{PREFIX}_CONSUL_URL`,
//! `{PREFIX}_ADVERTISE_HOST`, `{PREFIX}_UPSTREAMS` and the `{PREFIX}_DNS_*`
//! variables.

use std::collections::HashMap;
use std::net::{AddrParseError, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::dns::{DnsRegistry, domain_name};
use super::{ConsulRegistry, GRPC_SUFFIX, HealthCheck, Registration, ServiceRegistry, StaticRegistry};
use crate::discovery::CheckKind;
use crate::instance::InstanceId;

/// Which registry a service finds the others through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscoveryMode {
    /// Consul's catalog, which each instance registers in (compose).
    Consul,
    /// Fixed addresses from `{PREFIX}_UPSTREAMS` (`just dev`, tests).
    Static,
    /// The SRV records of Kubernetes headless Services ([`DnsRegistry`]).
    Dns,
}

impl FromStr for DiscoveryMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "consul" => Ok(Self::Consul),
            "static" => Ok(Self::Static),
            "dns" => Ok(Self::Dns),
            other => Err(format!("`{other}` is not a discovery mode: use consul, static or dns")),
        }
    }
}

/// Unset or empty: none, so the mode follows from the other settings.
fn optional_mode<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<DiscoveryMode>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    let value = value.as_deref().map(str::trim).filter(|value| !value.is_empty());
    value.map(str::parse).transpose().map_err(serde::de::Error::custom)
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
pub struct DiscoverySettings {
    /// `consul`, `static` or `dns`. Unset: `consul` when `consul_url` is
    /// set, else `static`, as before there was a choice.
    #[serde(default, deserialize_with = "optional_mode")]
    pub discovery: Option<DiscoveryMode>,
    /// Consul's HTTP address (`http://consul:8500`).
    #[serde(default)]
    pub consul_url: Option<String>,
    /// The host other services reach this one at (a pod IP, a name only
    /// this instance answers to). Unset: its own address on the network it
    /// shares with Consul, so that copies of one service (compose's
    /// `--scale`) each advertise their own; `127.0.0.1` without Consul.
    #[serde(default)]
    pub advertise_host: Option<String>,
    /// The upstreams of `static` mode:
    /// `user=127.0.0.1:8081;user-grpc=127.0.0.1:9081`.
    #[serde(default)]
    pub upstreams: String,
    /// How long Consul keeps an instance whose check has stayed critical
    /// before removing it (a crashed process that never deregistered).
    /// Default 60 s, Consul's own minimum.
    #[serde(default)]
    pub deregister_critical_after_secs: Option<u64>,
    /// The domain the SRV names are completed with in `dns` mode
    /// (`switchyard.svc.cluster.local`). Unset: relative names, completed
    /// from the system resolver's search list, which in a pod is its
    /// namespace's domains; set it to ask one name instead of several.
    #[serde(default)]
    pub dns_domain: Option<String>,
    /// Seconds between two lookups of each watched name in `dns` mode.
    /// Default 5: the TTL CoreDNS's kubernetes plugin gives its answers by
    /// default. A change is seen within this plus that TTL; asking more
    /// often mostly meets CoreDNS's cached answer again.
    #[serde(default)]
    pub dns_interval_secs: Option<u64>,
    /// `ip:port` of the nameserver to ask in `dns` mode (tests). Unset: the
    /// system's, from /etc/resolv.conf (in a pod, CoreDNS).
    #[serde(default)]
    pub dns_server: Option<String>,
}

impl DiscoverySettings {
    /// The Consul URL, if one is configured (an empty value means none).
    pub fn consul_url(&self) -> Option<&str> {
        self.consul_url.as_deref().map(str::trim).filter(|url| !url.is_empty())
    }

    /// The registry in use: as set, else Consul when there is a URL for it.
    pub fn mode(&self) -> DiscoveryMode {
        let implied = if self.consul_url().is_some() { DiscoveryMode::Consul } else { DiscoveryMode::Static };
        self.discovery.unwrap_or(implied)
    }

    /// The registry [`Self::mode`] names. Fails where [`Self::validate`]
    /// refuses, and in `dns` mode when the system's resolver configuration
    /// cannot be read.
    pub fn registry(&self) -> anyhow::Result<Arc<dyn ServiceRegistry>> {
        Ok(match self.mode() {
            DiscoveryMode::Consul => {
                let url = self.consul_url().ok_or_else(|| anyhow::anyhow!("consul discovery without a Consul URL"))?;
                Arc::new(ConsulRegistry::new(url))
            }
            DiscoveryMode::Static => Arc::new(StaticRegistry::from_spec(&self.upstreams)),
            DiscoveryMode::Dns => {
                let domain = self.dns_domain().map(str::to_owned);
                Arc::new(DnsRegistry::new(self.dns_server()?, domain, self.dns_interval())?)
            }
        })
    }

    /// The configured DNS domain, if any (an empty value means none).
    pub fn dns_domain(&self) -> Option<&str> {
        self.dns_domain.as_deref().map(str::trim).filter(|domain| !domain.is_empty())
    }

    /// The configured nameserver, if any (an empty value means none).
    pub fn dns_server(&self) -> Result<Option<SocketAddr>, AddrParseError> {
        self.dns_server.as_deref().map(str::trim).filter(|server| !server.is_empty()).map(str::parse).transpose()
    }

    pub fn dns_interval(&self) -> Duration {
        Duration::from_secs(self.dns_interval_secs.unwrap_or(5))
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
        anyhow::ensure!(
            self.discovery != Some(DiscoveryMode::Consul) || self.consul_url().is_some(),
            "{prefix}DISCOVERY is consul, but {prefix}CONSUL_URL is not set"
        );
        anyhow::ensure!(
            self.dns_interval_secs != Some(0),
            "{prefix}DNS_INTERVAL_SECS must be above 0: DNS would be asked again without a pause"
        );
        if let Err(error) = self.dns_server() {
            anyhow::bail!("{prefix}DNS_SERVER must be an ip:port, such as 10.96.0.10:53: {error}");
        }
        if let Some(domain) = self.dns_domain() {
            domain_name(domain).map_err(|error| anyhow::anyhow!("{prefix}DNS_DOMAIN is not a domain name: {error}"))?;
        }
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
