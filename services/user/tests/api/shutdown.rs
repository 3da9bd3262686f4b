//! Graceful shutdown: on SIGTERM the service stops accepting, finishes what
//! it is doing, and exits cleanly.

use std::time::Duration;

use testkit::{FaultProxy, ServiceProcess, TestDatabase};
use user::startup::MIGRATOR;

use crate::helpers::process_env;

/// A fresh database, a proxy in front of PostgreSQL the test can slow down
/// or cut, and the database's URL through it.
async fn database_behind_proxy() -> (TestDatabase, FaultProxy, String) {
    let db = TestDatabase::create(&MIGRATOR).await.unwrap();
    let server = testkit::db::server_address();
    let pg = FaultProxy::start(server).await.unwrap();
    let via_proxy = db.url.replace(&server.to_string(), &pg.addr().to_string());
    assert_ne!(via_proxy, db.url, "the service must reach PostgreSQL through the proxy");
    (db, pg, via_proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_when_sigterm_arrives_completes() {
    // The service reaches PostgreSQL through a proxy we can slow down, so a
    // request is reliably still running when the signal arrives.
    let (_db, pg, via_proxy) = database_behind_proxy().await;
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
async fn from_sigterm_until_its_listener_closes_readiness_answers_503_and_the_slow_request_completes() {
    use testkit::ConsulDouble;

    let consul = ConsulDouble::start().await;
    // Leaving the registry takes a while, as with a loaded agent: the
    // window between the signal and the closed listener a balancer sees.
    consul.delay_deregistrations(Duration::from_millis(700));
    let (_db, pg, via_proxy) = database_behind_proxy().await;
    let mut env = process_env(&via_proxy);
    env.push(("USER_CONSUL_URL", consul.url()));
    let mut service = ServiceProcess::spawn(env!("CARGO_BIN_EXE_user"), &env).await.unwrap();
    let base = format!("http://{}", service.addr("http_addr"));
    let ready = || async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        let response = client.get(format!("{base}/health/ready")).send().await?;
        let status = response.status().as_u16();
        Ok::<_, reqwest::Error>((status, response.json::<serde_json::Value>().await.unwrap_or_default()))
    };
    let (status, body) = ready().await.unwrap();
    assert_eq!((status, &body["checks"]["draining"]["status"]), (200, &"up".into()), "ready before the signal: {body}");

    pg.add_latency(Duration::from_millis(500));
    let slow = tokio::spawn({
        let url = format!("{base}/users/{}", uuid::Uuid::now_v7());
        async move { reqwest::Client::new().get(url).bearer_auth(testkit::As::admin().token()).send().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    service.terminate().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let mut answers = Vec::new();
    while let Ok(answer) = ready().await {
        answers.push(answer);
    }
    assert!(!answers.is_empty(), "the listener stayed open after the signal, while it deregistered");
    for (status, body) in &answers {
        // Draining, whatever the (slowed) database check says.
        assert_eq!((*status, &body["checks"]["draining"]["status"]), (503, &"down".into()), "after the signal: {body}");
    }
    let response = slow.await.unwrap().expect("the in-flight request got an answer");
    assert_eq!(response.status(), 404, "it ran to completion (the user does not exist)");
    // The probes made the pool open connections through the slowed link;
    // closing them should not have to wait seconds per handshake.
    pg.restore();
    assert!(service.wait(Duration::from_secs(20)).await.unwrap(), "the service exited cleanly");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_health_follows_readiness_and_turns_not_serving_at_sigterm() {
    use contracts::user::v1 as pb;
    use contracts::user::v1::user_service_client::UserServiceClient;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let (_db, pg, via_pg) = database_behind_proxy().await;
    let amqp = FaultProxy::start("127.0.0.1:5672".parse().unwrap()).await.unwrap();
    let mut env = process_env(&via_pg);
    for (key, value) in &mut env {
        if *key == "AMQP_URL" {
            *value = value.replace("127.0.0.1:5672", &amqp.addr().to_string());
        }
    }
    let mut service = ServiceProcess::spawn(env!("CARGO_BIN_EXE_user"), &env).await.unwrap();
    let channel = testkit::grpc::channel(service.addr("grpc_addr")).await;
    let status = || async { testkit::grpc::health(channel.clone(), "").await };
    let until = |wanted: ServingStatus| async move {
        for _ in 0..100 {
            if status().await == wanted {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(until(ServingStatus::Serving).await, "serving once started");

    // The broker gone: degraded, still serving (two readiness rounds pass).
    amqp.refuse_connections();
    amqp.cut_connections();
    tokio::time::sleep(comms::grpc::READINESS_EVERY * 2 + Duration::from_millis(500)).await;
    assert_eq!(status().await, ServingStatus::Serving, "a broker outage only degrades");
    amqp.restore();

    // The database gone: not serving, until it is back.
    pg.refuse_connections();
    pg.cut_connections();
    assert!(until(ServingStatus::NotServing).await, "NOT_SERVING while the database is cut");
    pg.restore();
    assert!(until(ServingStatus::Serving).await, "SERVING again once it is back");

    // SIGTERM during a call: health turns NOT_SERVING while the call runs on.
    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest { service: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(watch.message().await.unwrap().unwrap().status(), ServingStatus::Serving);
    pg.add_latency(Duration::from_millis(300));
    let call = tokio::spawn({
        let channel =
            testkit::grpc::authorized(service.addr("grpc_addr"), &testkit::service_token("order", "user")).await;
        async move {
            UserServiceClient::new(channel).get_user(pb::GetUserRequest { id: uuid::Uuid::now_v7().to_string() }).await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    service.terminate().unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message()).await.expect("a status change");
    assert_eq!(next.unwrap().unwrap().status(), ServingStatus::NotServing, "NOT_SERVING at SIGTERM");
    drop(watch);
    let answered = call.await.unwrap().expect_err("no such user");
    assert_eq!(answered.code(), tonic::Code::NotFound, "the call in flight ran to its real answer: {answered:?}");
    assert!(service.wait(Duration::from_secs(15)).await.unwrap(), "the service exited");
}
