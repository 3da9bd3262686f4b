//! Graceful shutdown: on SIGTERM the service stops accepting, finishes what
//! it is doing, and exits cleanly.

use std::time::Duration;

use testkit::{FaultProxy, ServiceProcess, TestDatabase};
use user::startup::MIGRATOR;

use crate::helpers::process_env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_when_sigterm_arrives_completes() {
    let db = TestDatabase::create(&MIGRATOR).await.unwrap();
    // The service reaches PostgreSQL through a proxy we can slow down, so a
    // request is reliably still running when the signal arrives.
    let server = testkit::db::server_address();
    let pg = FaultProxy::start(server).await.unwrap();
    let via_proxy = db.url.replace(&server.to_string(), &pg.addr().to_string());
    assert_ne!(via_proxy, db.url, "the service must reach PostgreSQL through the proxy");
    let mut service = ServiceProcess::spawn(env!("CARGO_BIN_EXE_user"), &process_env(&via_proxy)).await.unwrap();
    let base = format!("http://{}", service.addr("http_addr"));

    pg.add_latency(Duration::from_millis(400));
    let slow = tokio::spawn({
        let url = format!("{base}/users/{}", uuid::Uuid::now_v7());
        async move { reqwest::Client::new().get(url).bearer_auth(testkit::As::admin().token()).send().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    service.terminate().unwrap();

    let response = slow.await.unwrap().expect("the in-flight request got an answer");
    assert_eq!(response.status(), 404, "it ran to completion (the user does not exist)");
    assert!(service.wait(Duration::from_secs(10)).await.unwrap(), "the service exited cleanly");
    assert!(reqwest::get(format!("{base}/health/live")).await.is_err(), "nothing listens after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_consul_it_registers_passes_both_checks_and_leaves_before_it_stops_listening() {
    use comms::discovery::{ConsulRegistry, ServiceRegistry};
    use testkit::ConsulDouble;

    let consul = ConsulDouble::start().await;
    let db = TestDatabase::create(&MIGRATOR).await.unwrap();
    let mut env = process_env(&db.url);
    env.push(("USER_CONSUL_URL", consul.url()));
    let mut service = ServiceProcess::spawn(env!("CARGO_BIN_EXE_user"), &env).await.unwrap();

    // Passing means the double ran the HTTP check against /health/ready and
    // the gRPC health check against the gRPC port.
    let registry = ConsulRegistry::new(consul.url()).with_wait(Duration::from_secs(1));
    for (name, field) in [("user", "http_addr"), ("user-grpc", "grpc_addr")] {
        let mut watched = registry.watch(name);
        let instances = tokio::time::timeout(Duration::from_secs(10), watched.wait_for(|set| set.len() == 1))
            .await
            .unwrap_or_else(|_| panic!("{name} never passed its check"))
            .unwrap()
            .clone();
        assert_eq!(instances[0].address, service.addr(field).to_string());
    }

    service.terminate().unwrap();
    assert!(service.wait(Duration::from_secs(10)).await.unwrap());
    let mut left = consul.deregistrations();
    left.sort();
    assert_eq!(left.len(), 2, "both registrations were removed: {left:?}");
    assert!(left.iter().all(|(_, listening)| *listening), "each while the service still listened: {left:?}");
}
