//! Discovery through the Consul client, against the test kit's Consul double.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use comms::Shutdown;
use comms::client::UpstreamConfig;
use comms::client::http::HttpClient;
use comms::discovery::{
    ConsulRegistry, DiscoverySettings, HealthCheck, Instance, Registration, ServiceRegistry, register_until,
};
use comms::instance::InstanceId;
use testkit::{ConsulDouble, FaultProxy};
use tokio::sync::watch;

use crate::support::{Upstream, spread, start_upstream, until};

fn registration(service: &str, addr: SocketAddr) -> Registration {
    let mut check = HealthCheck::http(format!("http://{addr}/health"));
    check.interval = Duration::from_millis(200);
    check.timeout = Duration::from_millis(500);
    check.deregister_critical_after = Duration::from_secs(60);
    Registration {
        id: format!("{service}-{}", addr.port()),
        name: service.into(),
        host: addr.ip().to_string(),
        port: addr.port(),
        tags: vec![],
        meta: Default::default(),
        check,
    }
}

fn registry(url: &str) -> ConsulRegistry {
    ConsulRegistry::new(url).with_wait(Duration::from_secs(1))
}

fn hits(a: &Upstream, b: &Upstream) -> (usize, usize) {
    (a.hits(), b.hits())
}

#[tokio::test]
async fn instances_added_or_removed_reach_the_balancer_without_a_restart() {
    let consul = ConsulDouble::start().await;
    let registry = registry(&consul.url());
    let (a_addr, a) = start_upstream().await;
    let (b_addr, b) = start_upstream().await;
    registry.register(&registration("orders", a_addr)).await.unwrap();

    let mut watched = registry.watch("orders");
    until(&mut watched, |set| set.len() == 1).await;
    let client = HttpClient::new(UpstreamConfig::new("orders"), watched.clone());
    spread(&client, 10).await;
    assert_eq!(hits(&a, &b), (10, 0));

    registry.register(&registration("orders", b_addr)).await.unwrap();
    until(&mut watched, |set| set.len() == 2).await;
    spread(&client, 40).await;
    assert!(b.hits() > 5, "the new instance takes traffic: {:?}", hits(&a, &b));

    registry.deregister(&format!("orders-{}", a_addr.port())).await.unwrap();
    until(&mut watched, |set| set.len() == 1).await;
    let a_before = a.hits();
    spread(&client, 20).await;
    assert_eq!(a.hits(), a_before, "the removed instance gets nothing more");
}

#[tokio::test]
async fn an_instance_whose_health_check_fails_stops_receiving_traffic() {
    let consul = ConsulDouble::start().await;
    let registry = registry(&consul.url());
    let (a_addr, a) = start_upstream().await;
    let (b_addr, b) = start_upstream().await;
    registry.register(&registration("stock", a_addr)).await.unwrap();
    registry.register(&registration("stock", b_addr)).await.unwrap();
    let mut watched = registry.watch("stock");
    until(&mut watched, |set| set.len() == 2).await;

    a.set_health(503);
    until(&mut watched, |set| set.len() == 1).await;
    let client = HttpClient::new(UpstreamConfig::new("stock"), watched);
    let a_before = a.hits();
    spread(&client, 20).await;
    assert_eq!(a.hits(), a_before, "the failing instance left the passing set");
    assert!(b.hits() >= 20);
    assert!(!consul.is_passing(&format!("stock-{}", a_addr.port())));
}

#[tokio::test]
async fn index_anomalies_do_not_cause_a_request_storm() {
    let consul = ConsulDouble::start().await;
    let registry = registry(&consul.url());
    let (addr, _) = start_upstream().await;
    registry.register(&registration("storm", addr)).await.unwrap();
    let mut watched = registry.watch("storm");
    until(&mut watched, |set| set.len() == 1).await;

    // Consul reports index 0 for two seconds: a naive client re-queries
    // immediately, forever.
    let before = consul.health_queries();
    consul.report_zero_index(true);
    tokio::time::sleep(Duration::from_secs(2)).await;
    consul.report_zero_index(false);
    let during = consul.health_queries() - before;
    assert!(during <= 30, "{during} queries in 2 s");

    // The index goes backwards (a snapshot restore); a change made after it
    // is still seen.
    consul.reset_index(1);
    let (second, _) = start_upstream().await;
    registry.register(&registration("storm", second)).await.unwrap();
    until(&mut watched, |set| set.len() == 2).await;
    let before = consul.health_queries();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(consul.health_queries() - before <= 6, "blocking again once the set is stable");
}

#[tokio::test]
async fn a_consul_outage_keeps_the_last_known_instances() {
    let consul = ConsulDouble::start().await;
    let proxy = FaultProxy::start(consul.addr()).await.unwrap();
    let registry = registry(&format!("http://{}", proxy.addr()));
    let (addr, upstream) = start_upstream().await;
    registry.register(&registration("outage", addr)).await.unwrap();
    let mut watched = registry.watch("outage");
    until(&mut watched, |set| set.len() == 1).await;

    proxy.refuse_connections();
    proxy.cut_connections();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(watched.borrow().len(), 1, "the instance is still known");
    let client = HttpClient::new(UpstreamConfig::new("outage"), watched.clone());
    assert_eq!(client.get("/work").send().await.unwrap().status(), 200);
    assert!(upstream.hits() >= 1);

    proxy.restore();
    let (second, _) = start_upstream().await;
    // The proxy reopens its port asynchronously; registering may need a try or two.
    let mut registered = false;
    for _ in 0..20 {
        if registry.register(&registration("outage", second)).await.is_ok() {
            registered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(registered, "Consul is reachable again");
    until(&mut watched, |set| set.len() == 2).await;
}

#[tokio::test]
async fn a_graceful_shutdown_deregisters_before_it_stops_listening() {
    let consul = ConsulDouble::start().await;
    let registry: Arc<dyn ServiceRegistry> = Arc::new(registry(&consul.url()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let stop_serving = register_until(registry.clone(), vec![registration("leaving", addr)], shutdown.clone()).await;
    let router = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let server = tokio::spawn(comms::http::serve(listener, router, Default::default(), stop_serving.wait()));
    let mut watched = registry.watch("leaving");
    until(&mut watched, |set| set.len() == 1).await;

    shutdown.trigger();
    server.await.unwrap().unwrap();
    assert_eq!(
        consul.deregistrations(),
        [(format!("leaving-{}", addr.port()), true)],
        "deregistered while still accepting connections"
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "and then stopped listening");
}

#[tokio::test]
async fn registering_the_same_id_twice_is_idempotent_and_no_instances_is_a_clear_error() {
    let consul = ConsulDouble::start().await;
    let registry = registry(&consul.url());
    let (addr, _) = start_upstream().await;
    registry.register(&registration("twice", addr)).await.unwrap();
    registry.register(&registration("twice", addr)).await.unwrap();
    assert_eq!(consul.registered(), [format!("twice-{}", addr.port())]);

    let client = HttpClient::new(UpstreamConfig::new("nobody"), registry.watch("nobody"));
    let error = client.get("/x").send().await.unwrap_err();
    assert_eq!(error.to_string(), "no instances available for nobody");
}

/// An instance's standard registration (`DiscoverySettings::registrations`,
/// advertised on 127.0.0.1) with the double's checks pointed at `health`
/// and run every 200 ms.
fn instance_registration(instance: &InstanceId, port: u16, health: SocketAddr) -> Registration {
    let settings = DiscoverySettings { advertise_host: Some("127.0.0.1".into()), ..Default::default() };
    let mut registration = settings.registrations(instance, port, None).remove(0);
    registration.check.kind = comms::discovery::CheckKind::Http(format!("http://{health}/health"));
    registration.check.interval = Duration::from_millis(200);
    registration
}

#[tokio::test]
async fn two_instances_on_one_host_and_port_get_their_own_ids_and_one_leaving_leaves_the_other_listed() {
    let consul = ConsulDouble::start().await;
    let registry: Arc<dyn ServiceRegistry> = Arc::new(registry(&consul.url()));
    let (health, _) = start_upstream().await;
    // As two copies behind one advertised name and port (compose's --scale).
    let (first, second) = (InstanceId::new("inventory"), InstanceId::new("inventory"));
    let (stop_first, stop_second) = (Shutdown::new(), Shutdown::new());
    let first_left =
        register_until(registry.clone(), vec![instance_registration(&first, 8083, health)], stop_first.clone()).await;
    let _second_left =
        register_until(registry.clone(), vec![instance_registration(&second, 8083, health)], stop_second.clone()).await;
    let mut watched = registry.watch("inventory");
    let both = until(&mut watched, |set| set.len() == 2).await;
    let mut ids: Vec<_> = both.iter().map(|i| i.id.clone()).collect();
    ids.sort();
    let mut expected = vec![first.to_string(), second.to_string()];
    expected.sort();
    assert_eq!(ids, expected, "each listed under its own id");

    stop_first.trigger();
    first_left.wait().await;
    let left = until(&mut watched, |set| set.len() == 1).await;
    assert_eq!(left[0].id, second.to_string(), "the one that stayed is still listed");
    assert_eq!(consul.deregistrations().len(), 1, "only the leaving instance deregistered");
    stop_second.trigger();
}

#[tokio::test]
async fn after_the_registry_forgets_everything_each_instance_registers_again_within_a_check_interval() {
    let consul = ConsulDouble::start().await;
    let registry: Arc<dyn ServiceRegistry> = Arc::new(registry(&consul.url()));
    let (health, _) = start_upstream().await;
    let stop = Shutdown::new();
    let instances = [InstanceId::new("order"), InstanceId::new("order")];
    for (n, instance) in instances.iter().enumerate() {
        let registration = instance_registration(instance, 8082 + n as u16, health);
        let _ = register_until(registry.clone(), vec![registration], stop.clone()).await;
    }
    let mut watched = registry.watch("order");
    until(&mut watched, |set| set.len() == 2).await;

    consul.forget_everything();
    assert!(consul.registered().is_empty(), "the double restarted empty");
    // Within one check interval (200 ms here) each notices and registers
    // again. The watch need not see the empty set in between: on a busy
    // machine its next query may come after both are back, so the double's
    // own list is what shows the registrations.
    let mut expected: Vec<_> = instances.iter().map(ToString::to_string).collect();
    expected.sort();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut registered = consul.registered();
        registered.sort();
        if registered == expected {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "registered again: {registered:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The double's first check then passes each, and the watch lists both.
    let back = until(&mut watched, |set| set.len() == 2 && set.iter().all(|i| consul.is_passing(&i.id))).await;
    let mut ids: Vec<_> = back.iter().map(|i| i.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, expected, "both listed again, under their own ids");
    stop.trigger();
}

#[tokio::test]
async fn an_instance_that_crashed_without_deregistering_is_removed_after_deregister_critical_after() {
    let consul = ConsulDouble::start().await;
    let registry: Arc<dyn ServiceRegistry> = Arc::new(registry(&consul.url()));
    // The instance: a server whose task is killed outright, as SIGKILL
    // ends a process: no deregistration, and nothing answers its check.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let health = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let instance_process = tokio::spawn(async move { axum::serve(listener, router).await });
    let settings = DiscoverySettings { deregister_critical_after_secs: Some(1), ..Default::default() };
    let instance = InstanceId::new("notification");
    let mut registration = instance_registration(&instance, 8084, health);
    registration.check.deregister_critical_after = settings.deregister_critical_after();
    registry.register(&registration).await.unwrap();
    let mut watched = registry.watch("notification");
    until(&mut watched, |set| set.len() == 1).await;

    instance_process.abort();
    until(&mut watched, |set| set.is_empty()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !consul.registered().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "still registered: {:?}", consul.registered());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(consul.deregistrations().is_empty(), "removed by the registry, not deregistered");
}

/// A gRPC server whose health service reports `who` as `status`: which
/// server answered a call shows in the answer.
async fn health_server(status: tonic_health::ServingStatus) -> SocketAddr {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter.set_service_status("who", status).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

fn instance(id: &str, addr: SocketAddr) -> Instance {
    Instance { id: id.into(), service: "pair".into(), address: addr.to_string(), tags: vec![], meta: vec![] }
}

#[tokio::test]
async fn an_address_that_left_discovery_gets_no_more_calls_and_its_channel_is_dropped() {
    use comms::client::grpc::GrpcChannel;
    use comms::discovery::BalanceStrategy;
    use tonic_health::ServingStatus;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus as Answered;
    use tonic_health::pb::health_client::HealthClient;

    let (staying, leaving) =
        (health_server(ServingStatus::Serving).await, health_server(ServingStatus::NotServing).await);
    let (set, instances) = watch::channel(vec![instance("staying", staying), instance("leaving", leaving)]);
    let mut config = UpstreamConfig::new("pair");
    config.strategy = BalanceStrategy::RoundRobin;
    let channel = GrpcChannel::new(config, instances);
    let client = HealthClient::new(channel.clone());
    let answered_by = |n| {
        let mut client = client.clone();
        async move {
            let mut statuses = Vec::new();
            for _ in 0..n {
                let answer = client.check(HealthCheckRequest { service: "who".into() }).await.unwrap();
                statuses.push(answer.into_inner().status());
            }
            statuses
        }
    };
    let both = answered_by(4).await;
    assert!(both.contains(&Answered::NotServing) && both.contains(&Answered::Serving), "{both:?}");
    assert_eq!(channel.cached_channels(), 2);

    set.send_replace(vec![instance("staying", staying)]);
    let after = answered_by(6).await;
    assert!(after.iter().all(|s| *s == Answered::Serving), "only the instance that stayed answers: {after:?}");
    assert_eq!(channel.cached_channels(), 1, "the departed address's channel was dropped");
}
