//! Discovery through DNS, as in Kubernetes: `DnsRegistry` against the test
//! kit's DNS double, which answers as CoreDNS does for headless Services,
//! calling real HTTP upstreams through `HttpClient`. Names are resolved
//! every 200 ms here (5 s by default).

use std::net::SocketAddr;
use std::time::Duration;

use comms::client::UpstreamConfig;
use comms::client::http::HttpClient;
use comms::discovery::{DiscoveryMode, DiscoverySettings, DnsRegistry, Instance, ServiceRegistry};
use testkit::DnsDouble;
use testkit::dns::Answering;
use tokio::sync::watch;

use crate::support::{spread, start_upstream, until, within};

const INTERVAL: Duration = Duration::from_millis(200);

/// How long a change may take to reach a watcher: 25 intervals, generous
/// on a loaded machine and far below the 60 s TTL of the records in the
/// test that uses it, so an answer served from a cache would fail it.
const BOUND: Duration = Duration::from_secs(5);

const DOMAIN: &str = "switchyard.svc.cluster.local";

type Watched = watch::Receiver<Vec<Instance>>;

fn registry(dns: &DnsDouble) -> DnsRegistry {
    DnsRegistry::new(Some(dns.addr()), Some(DOMAIN.into()), INTERVAL).unwrap()
}

/// Where CoreDNS publishes the ready pods of `service`'s port `port`.
fn srv(service: &str, port: &str) -> String {
    format!("_{port}._tcp.{service}-headless.{DOMAIN}")
}

/// A pod's DNS name in the headless Service of `service`.
fn pod(name: &str, service: &str) -> String {
    format!("{name}.{service}-headless.{DOMAIN}")
}

/// A registry over `dns` watching `service`, whose HTTP port has one pod,
/// `a`, at `addr`; returned once the watch lists it.
async fn watching_one(dns: &DnsDouble, service: &str, addr: SocketAddr) -> (DnsRegistry, Watched) {
    dns.set_srv(&srv(service, "http"), &[(&pod("a", service), addr)]);
    let registry = registry(dns);
    let mut watched = registry.watch(service);
    until(&mut watched, |set| set.len() == 1).await;
    (registry, watched)
}

#[tokio::test]
async fn pods_that_join_and_leave_reach_the_balancer_within_a_few_intervals() {
    let dns = DnsDouble::start().await;
    dns.set_ttl(Duration::from_secs(60));
    let (a_addr, a) = start_upstream().await;
    let (b_addr, b) = start_upstream().await;
    let (pod_a, pod_b) = (pod("a", "orders"), pod("b", "orders"));
    let name = srv("orders", "http");
    let (_registry, mut watched) = watching_one(&dns, "orders", a_addr).await;
    let first = watched.borrow().clone();
    assert_eq!(first[0].address, a_addr.to_string(), "the target's address, the record's port");
    assert_eq!(first[0].id, format!("{pod_a}:{}", a_addr.port()), "the pod's DNS name and port");
    assert!(!dns.asked().iter().any(|q| q.ends_with(" A")), "its address came with the answer");
    let client = HttpClient::new(UpstreamConfig::new("orders"), watched.clone());
    spread(&client, 10).await;
    assert_eq!((a.hits(), b.hits()), (10, 0));
    tokio::time::sleep(INTERVAL * 3).await;
    assert!(!watched.has_changed().unwrap(), "the same answer again is not a change");

    dns.set_srv(&name, &[(&pod_a, a_addr), (&pod_b, b_addr)]);
    within(BOUND, &mut watched, |set| set.len() == 2).await;
    spread(&client, 40).await;
    assert!(b.hits() > 5, "the new pod takes traffic: {:?}", (a.hits(), b.hits()));

    dns.set_srv(&name, &[(&pod_b, b_addr)]);
    let left = within(BOUND, &mut watched, |set| set.len() == 1).await;
    assert_eq!(left[0].address, b_addr.to_string());
    let a_before = a.hits();
    spread(&client, 20).await;
    assert_eq!(a.hits(), a_before, "the pod that left gets nothing more");
}

#[tokio::test]
async fn while_dns_fails_or_is_silent_the_last_instances_are_kept_and_served() {
    let dns = DnsDouble::start().await;
    let (a_addr, a) = start_upstream().await;
    let (b_addr, b) = start_upstream().await;
    let (_registry, mut watched) = watching_one(&dns, "stock", a_addr).await;
    let client = HttpClient::new(UpstreamConfig::new("stock"), watched.clone());

    for failure in [Answering::ServFail, Answering::Silence] {
        let asked = dns.asked().len();
        dns.answer(failure);
        tokio::time::sleep(INTERVAL * 8).await;
        assert!(dns.asked().len() >= asked + 2, "{failure:?}: DNS was asked again meanwhile");
        assert!(!watched.has_changed().unwrap(), "{failure:?}: nothing was published");
        assert_eq!(watched.borrow()[0].address, a_addr.to_string(), "{failure:?}: the pod is still known");
        assert_eq!(client.get("/work").send().await.unwrap().status(), 200, "{failure:?}: and called");
    }
    assert_eq!(a.hits(), 2);

    // Meanwhile the pod was replaced; DNS answers again.
    dns.set_srv(&srv("stock", "http"), &[(&pod("b", "stock"), b_addr)]);
    dns.answer(Answering::Normally);
    until(&mut watched, |set| set.len() == 1 && set[0].address == b_addr.to_string()).await;
    spread(&client, 5).await;
    assert_eq!((a.hits(), b.hits()), (2, 5), "calls follow the new set");
}

#[tokio::test]
async fn a_negative_answer_empties_the_set_and_calls_fail_with_no_instances() {
    let dns = DnsDouble::start().await;
    let (addr, _) = start_upstream().await;
    let (registry, mut watched) = watching_one(&dns, "gone", addr).await;
    let name = srv("gone", "http");

    // No ready pod: the name stays, without records (NODATA).
    dns.set_srv(&name, &[]);
    until(&mut watched, <[Instance]>::is_empty).await;
    dns.set_srv(&name, &[(&pod("a", "gone"), addr)]);
    until(&mut watched, |set| set.len() == 1).await;
    // No Service any more: NXDOMAIN.
    dns.remove(&name);
    until(&mut watched, <[Instance]>::is_empty).await;

    let client = HttpClient::new(UpstreamConfig::new("gone"), watched);
    let error = client.get("/work").send().await.unwrap_err();
    assert_eq!(error.to_string(), "no instances available for gone");
    assert!(registry.discover("gone").await.unwrap().is_empty(), "a lookup now says the same");
}

#[tokio::test]
async fn a_grpc_registration_asks_for_the_grpc_port_and_targets_without_addresses_are_looked_up() {
    let dns = DnsDouble::start().await;
    // No addresses in the additional section: the registry asks for them.
    dns.glue(false);
    let target = pod("10-0-0-7", "inventory");
    let grpc: SocketAddr = "127.0.0.1:9083".parse().unwrap();
    dns.set_srv(&srv("inventory", "grpc"), &[(&target, grpc)]);
    dns.set_srv(&srv("inventory", "http"), &[(&target, "127.0.0.1:8083".parse().unwrap())]);
    // Built from the settings a service reads, as at its start.
    let settings = DiscoverySettings {
        discovery: Some(DiscoveryMode::Dns),
        dns_server: Some(dns.addr().to_string()),
        dns_domain: Some(DOMAIN.into()),
        dns_interval_secs: Some(1),
        ..Default::default()
    };
    settings.validate("INVENTORY_").unwrap();
    let registry = settings.registry().unwrap();

    let mut watched = registry.watch("inventory-grpc");
    let found = until(&mut watched, |set| !set.is_empty()).await;
    let expected = Instance {
        id: format!("{target}:9083"),
        service: "inventory-grpc".into(),
        address: grpc.to_string(),
        tags: vec!["grpc".into()],
        meta: vec![],
    };
    assert_eq!(found, [expected]);
    let asked = dns.asked();
    assert_eq!(asked[0], format!("{}. SRV", srv("inventory", "grpc")), "{asked:?}");
    assert!(asked.contains(&format!("{target}. A")), "the target was looked up: {asked:?}");
    assert!(!asked.iter().any(|q| q.starts_with("_http.")), "the HTTP port was not asked: {asked:?}");
}

#[test]
fn unset_the_mode_is_consul_with_a_consul_url_and_static_without() {
    assert_eq!(DiscoverySettings::default().mode(), DiscoveryMode::Static);
    let consul = DiscoverySettings { consul_url: Some("http://consul:8500".into()), ..Default::default() };
    assert_eq!(consul.mode(), DiscoveryMode::Consul);
    let chosen = DiscoverySettings { discovery: Some(DiscoveryMode::Dns), ..consul };
    assert_eq!(chosen.mode(), DiscoveryMode::Dns, "a mode that is set wins");
    assert_eq!(chosen.dns_interval(), Duration::from_secs(5), "CoreDNS's default TTL");
}

#[test]
fn discovery_settings_that_cannot_work_are_refused_by_name() {
    let refused = |settings: DiscoverySettings| settings.validate("ORDER_").unwrap_err().to_string();
    let consul_without_url = DiscoverySettings { discovery: Some(DiscoveryMode::Consul), ..Default::default() };
    assert_eq!(refused(consul_without_url), "ORDER_DISCOVERY is consul, but ORDER_CONSUL_URL is not set");
    let never_waits = DiscoverySettings { dns_interval_secs: Some(0), ..Default::default() };
    assert!(refused(never_waits).starts_with("ORDER_DNS_INTERVAL_SECS must be above 0"));
    let no_port = DiscoverySettings { dns_server: Some("10.96.0.10".into()), ..Default::default() };
    assert!(refused(no_port).starts_with("ORDER_DNS_SERVER must be an ip:port"));
    let bad_domain = DiscoverySettings { dns_domain: Some("svc..cluster.local".into()), ..Default::default() };
    assert!(refused(bad_domain).starts_with("ORDER_DNS_DOMAIN is not a domain name"));
    let unknown = "kubernetes".parse::<DiscoveryMode>().unwrap_err();
    assert_eq!(unknown, "`kubernetes` is not a discovery mode: use consul, static or dns");
}
