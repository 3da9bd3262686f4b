//! Discovery through Consul (the test kit's double, which runs the health
//! checks for real): the gateway watches each upstream once, so requests
//! cost no registry query, and an instance registered later takes traffic
//! without a restart.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use comms::Shutdown;
use comms::discovery::{ConsulRegistry, HealthCheck, Registration, ServiceRegistry};
use gateway::routes::RouteTable;
use gateway::startup::build_with;
use testkit::ConsulDouble;

use crate::helpers::{TABLE, settings, start_echo};

fn registration(id: &str, addr: &str) -> Registration {
    let (host, port) = addr.rsplit_once(':').unwrap();
    // Checked on the JWK Set path, which the echo upstream counts apart
    // from the traffic it echoes (`hits`).
    let mut check = HealthCheck::http(format!("http://{addr}/.well-known/jwks.json"));
    check.interval = Duration::from_millis(200);
    Registration {
        id: id.into(),
        name: "echo".into(),
        host: host.into(),
        port: port.parse().unwrap(),
        tags: Vec::new(),
        meta: Default::default(),
        check,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cost_no_registry_query_and_a_new_instance_takes_traffic_without_a_restart() {
    let consul = ConsulDouble::start().await;
    let registry = Arc::new(ConsulRegistry::new(consul.url()));
    let (first_addr, first) = start_echo().await;
    registry.register(&registration("echo-1", &first_addr)).await.unwrap();

    let app =
        build_with(&settings(100_000, 100_000), RouteTable::parse(TABLE).unwrap(), registry.clone()).await.unwrap();
    let base = format!("http://{}", app.http_addr());
    let shutdown = Shutdown::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let http = reqwest::Client::new();
    let get = || async { http.get(format!("{base}/api/echo/x")).send().await.map(|r| r.status().as_u16()).ok() };
    let deadline = Instant::now() + Duration::from_secs(20);
    while get().await != Some(200) {
        assert!(Instant::now() < deadline, "the instance found in Consul never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Let the double's first health checks settle (each change of state
    // wakes every watch once), then: 1,000 requests, and as long again with
    // none. The queries differ by no more than the watch's own rhythm.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = consul.health_queries();
    let started = Instant::now();
    for _ in 0..1_000 {
        assert_eq!(get().await, Some(200));
    }
    let busy = started.elapsed();
    let during_traffic = consul.health_queries() - before;
    let before = consul.health_queries();
    tokio::time::sleep(busy).await;
    let while_idle = consul.health_queries() - before;
    assert!(
        during_traffic <= while_idle + 2,
        "{during_traffic} health queries during 1,000 requests, {while_idle} in as long idle"
    );

    let (second_addr, second) = start_echo().await;
    registry.register(&registration("echo-2", &second_addr)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while second.hits.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the new instance never took traffic");
        assert_eq!(get().await, Some(200));
    }
    assert!(first.hits.load(Ordering::SeqCst) >= 1_000);
    shutdown.trigger();
}
