//! Discovery from Kubernetes DNS: the SRV records of headless Services.
//!
//! In a cluster each service has a headless Service (`clusterIP: None`)
//! named `{service}-headless` whose ports are named `http` and `grpc`.
//! CoreDNS answers an SRV query for a named port of it with one record per
//! ready pod (target: the pod's DNS name; port: the pod's port), and puts
//! each target's A/AAAA record in the additional section. So a
//! registration name maps to an SRV name:
//!
//! | registration | SRV name asked |
//! |---|---|
//! | `user` (its HTTP port) | `_http._tcp.user-headless[.{domain}]` |
//! | `user-grpc` (its gRPC port) | `_grpc._tcp.user-headless[.{domain}]` |
//!
//! With a domain (`switchyard.svc.cluster.local`) that one name is asked.
//! Without, the name is relative and completed as the C library would:
//! from the search list of `/etc/resolv.conf` (in a pod, its namespace's
//! domains), trying the name as it is first only when it has `ndots` dots.
//!
//! Each watched name is resolved again every interval, with the
//! resolver's cache off, so a changed record is seen within one interval of
//! DNS serving it:
//! - an answer: one [`Instance`] per SRV record, at the target's address
//!   and the record's port, its id the target's name and the port;
//! - a negative answer (NXDOMAIN, or the name without SRV records: NODATA)
//!   for every candidate name: no instances (every pod left or is unready);
//! - anything else (timeout, SERVFAIL, REFUSED, I/O): the last set stays, a
//!   warning is logged once per outage, and an info line when DNS answers
//!   again. A DNS outage must not empty every load balancer in the system.
//!
//! Registering is a no-op: Kubernetes publishes a pod in a headless Service
//! while its readiness probe passes and withdraws it when it fails or the
//! pod terminates. Readiness decides membership.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::ProtoError;
use hickory_resolver::proto::rr::{Name, RData};
use hickory_resolver::system_conf::read_system_conf;
use hickory_resolver::{Resolver, TokioResolver};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::watches::{Watches, publish};
use super::{DiscoveryError, GRPC_SUFFIX, Instance, Registration, ServiceRegistry, service_of};

/// The longest one query waits for its answer. Inside a cluster CoreDNS
/// answers in milliseconds; a query unanswered this long is lost, and the
/// next round asks again.
const MAX_QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// A registry over the SRV records of headless Services.
#[derive(Clone, Debug)]
pub struct DnsRegistry {
    resolver: TokioResolver,
    completion: Arc<Completion>,
    interval: Duration,
    watches: Watches,
}

/// How a relative SRV name becomes the fully qualified names asked.
#[derive(Debug)]
enum Completion {
    /// `{name}.{domain}.`, only.
    Domain(Name),
    /// The system's search list and `ndots`, as the C library uses them.
    Search { list: Vec<Name>, ndots: usize },
}

/// The relative SRV name of a registration: `user` → `_http._tcp.user-headless`,
/// `user-grpc` → `_grpc._tcp.user-headless`.
pub fn srv_name(registration: &str) -> String {
    format!("_{}._tcp.{}-headless", port_name(registration), service_of(registration))
}

/// The name of the headless Service's port a registration stands for.
fn port_name(registration: &str) -> &'static str {
    if registration.ends_with(GRPC_SUFFIX) { "grpc" } else { "http" }
}

/// `domain` as a DNS name (a trailing dot is allowed).
pub(crate) fn domain_name(domain: &str) -> Result<Name, ProtoError> {
    let trimmed = domain.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(ProtoError::from("an empty domain"));
    }
    Name::from_str(trimmed)
}

impl DnsRegistry {
    /// Asks `nameserver` (UDP; TCP when an answer is truncated) or, when
    /// `None`, the system's nameservers (`/etc/resolv.conf`); completes
    /// names with `domain` or, when `None`, the system's search list; and
    /// resolves each watched name again every `interval`.
    pub fn new(nameserver: Option<SocketAddr>, domain: Option<String>, interval: Duration) -> anyhow::Result<Self> {
        anyhow::ensure!(!interval.is_zero(), "the DNS interval must be above 0");
        let system = || read_system_conf().context("reading the system's resolver configuration (/etc/resolv.conf)");
        let completion = match domain.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            Some(domain) => Completion::Domain(domain_name(domain).with_context(|| format!("domain {domain:?}"))?),
            None => {
                let (config, options) = system()?;
                Completion::Search { list: config.search().to_vec(), ndots: options.ndots }
            }
        };
        let servers = match nameserver {
            Some(address) => vec![name_server(address)],
            None => system()?.0.name_servers().to_vec(),
        };
        let mut options = ResolverOpts::default();
        // Every round asks DNS: a cached answer would hide a pod that
        // joined or left for as long as its TTL.
        options.positive_max_ttl = Some(Duration::ZERO);
        options.negative_max_ttl = Some(Duration::ZERO);
        // A round takes at most about two query timeouts: one retry covers
        // a lost datagram, the next round the rest.
        options.timeout = interval.min(MAX_QUERY_TIMEOUT);
        options.attempts = 1;
        // Targets' addresses come from DNS, never from /etc/hosts.
        options.use_hosts_file = ResolveHosts::Never;
        let config = ResolverConfig::from_parts(None, Vec::new(), servers);
        let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .context("building the DNS resolver")?;
        Ok(Self { resolver, completion: Arc::new(completion), interval, watches: Watches::default() })
    }

    /// The instances behind `registration`, now: from the first candidate
    /// name with SRV records; none when every candidate answers negatively.
    async fn resolve(&self, registration: &str) -> Result<Vec<Instance>, DiscoveryError> {
        let names = self
            .completion
            .names(&srv_name(registration))
            .map_err(|e| DiscoveryError::Rejected(format!("{registration}: {e}")))?;
        for name in names {
            match self.resolver.srv_lookup(name.clone()).await {
                Ok(answer) => return self.instances(registration, &answer).await,
                Err(error) if error.is_no_records_found() => continue,
                // Not knowing is not "none", and a later candidate must not
                // answer in place of one that may exist.
                Err(error) => return Err(DiscoveryError::Unreachable(format!("{name}: {error}"))),
            }
        }
        Ok(Vec::new())
    }

    /// One instance per SRV record of `answer`, sorted by id.
    async fn instances(&self, registration: &str, answer: &Lookup) -> Result<Vec<Instance>, DiscoveryError> {
        let mut instances = Vec::new();
        for record in answer.answers() {
            let RData::SRV(srv) = &record.data else { continue };
            let Some(ip) = self.address_of(&srv.target, answer).await? else {
                tracing::debug!(service = %registration, target = %srv.target, "an SRV target has no address; skipped");
                continue;
            };
            let host = srv.target.to_ascii();
            instances.push(Instance {
                id: format!("{}:{}", host.trim_end_matches('.'), srv.port),
                service: registration.to_owned(),
                address: SocketAddr::new(ip, srv.port).to_string(),
                tags: vec![port_name(registration).to_owned()],
                meta: Vec::new(),
            });
        }
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        instances.dedup_by(|a, b| a.id == b.id);
        Ok(instances)
    }

    /// A target's address: from the answer's additional section, where
    /// CoreDNS puts it, else asked for. The lowest, so the choice is stable.
    async fn address_of(&self, target: &Name, answer: &Lookup) -> Result<Option<IpAddr>, DiscoveryError> {
        let glued = answer
            .additionals()
            .iter()
            .filter(|record| record.name == *target)
            .filter_map(|record| match &record.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .min();
        if glued.is_some() {
            return Ok(glued);
        }
        match self.resolver.lookup_ip(target.clone()).await {
            Ok(addresses) => Ok(addresses.iter().min()),
            Err(error) if error.is_no_records_found() => Ok(None),
            Err(error) => Err(DiscoveryError::Unreachable(format!("{target}: {error}"))),
        }
    }
}

impl Completion {
    /// The fully qualified names to ask for `relative`, in order.
    fn names(&self, relative: &str) -> Result<Vec<Name>, ProtoError> {
        let name = Name::from_str(relative)?;
        let qualified = |suffix: &Name| name.clone().append_domain(suffix);
        match self {
            Self::Domain(domain) => Ok(vec![qualified(domain)?]),
            Self::Search { list, ndots } => {
                let mut names = list.iter().map(qualified).collect::<Result<Vec<_>, _>>()?;
                let mut as_is = name.clone();
                as_is.set_fqdn(true);
                // A name with at least `ndots` dots is tried as it is first.
                if usize::from(name.num_labels()) > *ndots {
                    names.insert(0, as_is);
                } else {
                    names.push(as_is);
                }
                Ok(names)
            }
        }
    }
}

/// `address` over UDP, and TCP for answers too long for a datagram.
fn name_server(address: SocketAddr) -> NameServerConfig {
    let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()].map(|mut connection| {
        connection.port = address.port();
        connection
    });
    NameServerConfig::new(address.ip(), true, Vec::from(connections))
}

/// Resolves `registration` every interval until every receiver is gone,
/// publishing the set when it changes.
async fn watch_loop(registry: DnsRegistry, registration: String, tx: watch::Sender<Vec<Instance>>) {
    let mut rounds = tokio::time::interval(registry.interval);
    // A slow round (a nameserver that does not answer) delays the next one
    // rather than being followed by a burst.
    rounds.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = rounds.tick() => {}
            () = tx.closed() => return,
        }
        match registry.resolve(&registration).await {
            Ok(instances) => {
                if std::mem::take(&mut failing) {
                    tracing::info!(service = %registration, instances = instances.len(), "DNS answers again");
                }
                publish(&tx, &registration, instances);
            }
            Err(error) if !std::mem::replace(&mut failing, true) => {
                tracing::warn!(service = %registration, %error, "DNS lookup failed; keeping the last known instances");
            }
            Err(error) => tracing::debug!(service = %registration, %error, "DNS lookup failed again"),
        }
    }
}

impl ServiceRegistry for DnsRegistry {
    /// Nothing to announce: Kubernetes lists a pod while it is ready.
    fn register<'a>(&'a self, _registration: &'a Registration) -> BoxFuture<'a, Result<(), DiscoveryError>> {
        Box::pin(async { Ok(()) })
    }

    /// Nothing to withdraw: a terminating pod is unready, so unlisted.
    fn deregister<'a>(&'a self, _instance_id: &'a str) -> BoxFuture<'a, Result<(), DiscoveryError>> {
        Box::pin(async { Ok(()) })
    }

    /// DNS never forgets a registration, since it never had one.
    fn is_registered<'a>(&'a self, _instance_id: &'a str) -> BoxFuture<'a, Result<bool, DiscoveryError>> {
        Box::pin(async { Ok(true) })
    }

    fn discover<'a>(&'a self, service: &'a str) -> BoxFuture<'a, Result<Vec<Instance>, DiscoveryError>> {
        Box::pin(self.resolve(service))
    }

    fn watch(&self, service: &str) -> watch::Receiver<Vec<Instance>> {
        self.watches.subscribe(service, |tx| watch_loop(self.clone(), service.to_owned(), tx))
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use hickory_resolver::proto::rr::Name;

    use super::{Completion, domain_name, srv_name};

    fn names(completion: &Completion, relative: &str) -> Vec<String> {
        completion.names(relative).unwrap().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_registration_maps_to_the_named_port_of_its_headless_service() {
        assert_eq!(srv_name("user"), "_http._tcp.user-headless");
        assert_eq!(srv_name("user-grpc"), "_grpc._tcp.user-headless");
    }

    #[test]
    fn relative_names_are_completed_as_the_c_library_completes_them() {
        let domain = Completion::Domain(domain_name("switchyard.svc.cluster.local.").unwrap());
        assert_eq!(
            names(&domain, "_http._tcp.user-headless"),
            ["_http._tcp.user-headless.switchyard.svc.cluster.local."]
        );
        // A pod's resolv.conf: its namespace's domains, ndots 5.
        let list = ["switchyard.svc.cluster.local", "svc.cluster.local", "cluster.local"];
        let pod = Completion::Search { list: list.iter().map(|d| Name::from_str(d).unwrap()).collect(), ndots: 5 };
        assert_eq!(
            names(&pod, "_http._tcp.user-headless"),
            [
                "_http._tcp.user-headless.switchyard.svc.cluster.local.",
                "_http._tcp.user-headless.svc.cluster.local.",
                "_http._tcp.user-headless.cluster.local.",
                "_http._tcp.user-headless.",
            ]
        );
        let ndots_one = Completion::Search { list: vec![Name::from_str("example.org").unwrap()], ndots: 1 };
        assert_eq!(
            names(&ndots_one, "_http._tcp.user-headless"),
            ["_http._tcp.user-headless.", "_http._tcp.user-headless.example.org."],
            "a name with ndots dots is tried as it is first"
        );
        assert!(domain_name(" ").is_err());
    }
}
