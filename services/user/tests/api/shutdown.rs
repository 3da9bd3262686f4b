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
    let pg = FaultProxy::start("127.0.0.1:5432".parse().unwrap()).await.unwrap();
    let via_proxy = db.url.replace("127.0.0.1:5432", &pg.addr().to_string());
    let mut service = ServiceProcess::spawn(env!("CARGO_BIN_EXE_user"), &process_env(&via_proxy)).await.unwrap();
    let base = format!("http://{}", service.addr("http_addr"));

    pg.add_latency(Duration::from_millis(400));
    let slow = tokio::spawn({
        let url = format!("{base}/users/{}", uuid::Uuid::now_v7());
        async move {
            reqwest::Client::new()
                .get(url)
                .header("x-user-id", uuid::Uuid::now_v7().to_string())
                .header("x-user-roles", "admin")
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    service.terminate().unwrap();

    let response = slow.await.unwrap().expect("the in-flight request got an answer");
    assert_eq!(response.status(), 404, "it ran to completion (the user does not exist)");
    assert!(service.wait(Duration::from_secs(10)).await.unwrap(), "the service exited cleanly");
    assert!(reqwest::get(format!("{base}/health/live")).await.is_err(), "nothing listens after shutdown");
}
