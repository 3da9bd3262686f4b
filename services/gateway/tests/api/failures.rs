//! Upstream failures become precise answers: 502, 503 with Retry-After,
//! 504, and the breaker keeps a failing upstream from being called at all.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::helpers::{assert_problem, spawn_gateway};

#[tokio::test]
async fn an_upstream_that_refuses_connections_is_a_502_at_once() {
    let gw = spawn_gateway().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    gw.registry.set("echo", &[&format!("127.0.0.1:{port}")]);
    let started = Instant::now();
    let problem = assert_problem(gw.http.get(gw.url("/api/echo/x")).send().await.unwrap(), 502).await;
    assert!(problem["detail"].as_str().unwrap().contains("could not connect"));
    assert!(started.elapsed() < Duration::from_secs(3), "at once, not after a timeout");
}

#[tokio::test]
async fn a_service_with_no_instances_is_a_503() {
    let gw = spawn_gateway().await;
    let problem = assert_problem(gw.http.get(gw.url("/api/down")).send().await.unwrap(), 503).await;
    assert_eq!(problem["detail"], "no instances available for nowhere");
}

#[tokio::test]
async fn a_slow_upstream_is_a_504_at_the_routes_timeout() {
    let gw = spawn_gateway().await;
    let started = Instant::now();
    assert_problem(gw.http.get(gw.url("/api/slow")).send().await.unwrap(), 504).await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_millis(1500), "{waited:?}");
}

#[tokio::test]
async fn a_failing_upstream_trips_the_breaker_then_gets_nothing_and_recovers() {
    let gw = spawn_gateway().await;
    // 20 calls (the minimum throughput) that all fail open the breaker.
    for _ in 0..20 {
        assert_eq!(gw.get("/api/broken", &[]).await.0, 500, "upstream errors pass through");
    }
    let hits = gw.echo.hits.load(Ordering::SeqCst);
    let open = gw.http.get(gw.url("/api/broken")).send().await.unwrap();
    let retry_after: u64 = open.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry_after));
    assert_problem(open, 503).await;
    for _ in 0..10 {
        assert_eq!(gw.get("/api/broken", &[]).await.0, 503);
    }
    assert_eq!(gw.echo.hits.load(Ordering::SeqCst), hits, "the upstream received nothing while open");

    // The breaker guards one service; others flow meanwhile.
    assert_eq!(gw.get("/api/echo/x", &[]).await.0, 200);

    // The upstream recovers; after the break, one probe closes the breaker
    // and traffic flows again.
    gw.echo.healed.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(5100)).await;
    for _ in 0..5 {
        assert_eq!(gw.get("/api/broken", &[]).await.0, 200, "traffic flows after recovery");
    }
}

/// An upstream that sheds `/shed` on purpose (503 with `Retry-After`),
/// fails `/down` (503 without) and answers `/ok`.
async fn start_shedding() -> String {
    use axum::routing::get;
    let router = axum::Router::new()
        .route("/shed", get(|| async { (http::StatusCode::SERVICE_UNAVAILABLE, [(http::header::RETRY_AFTER, "1")]) }))
        .route("/down", get(|| async { http::StatusCode::SERVICE_UNAVAILABLE }))
        .route("/ok", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

#[tokio::test]
async fn a_deliberate_503_with_retry_after_is_passed_on_and_never_opens_the_breaker() {
    let table = gateway::routes::RouteTable::parse(
        r#"{ "routes": [
          { "name": "shed", "path": "/api/shed", "methods": ["GET"], "service": "shedding", "rewrite": "/shed", "auth": "public" },
          { "name": "down", "path": "/api/down", "methods": ["GET"], "service": "shedding", "rewrite": "/down", "auth": "public" },
          { "name": "ok", "path": "/api/ok", "methods": ["GET"], "service": "shedding", "rewrite": "/ok", "auth": "public" }
        ] }"#,
    )
    .unwrap();
    let registry = std::sync::Arc::new(comms::discovery::StaticRegistry::new());
    registry.set("shedding", &[&start_shedding().await]);
    let mut settings = crate::helpers::settings(100_000, 100_000);
    settings.auth.user_keys_urls = Some(testkit::identity::user_keys_url().to_owned());
    let app = gateway::startup::build_with(&settings, table, registry).await.unwrap();
    let base = format!("http://{}", app.http_addr());
    let shutdown = comms::Shutdown::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let http = reqwest::Client::new();
    let status = |path: &'static str| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move { http.get(url).send().await.unwrap() }
    };

    // Far past the breaker's minimum throughput, every one shed on purpose:
    // each goes to the client as it came, and the service stays callable.
    for _ in 0..60 {
        let shed = status("/api/shed").await;
        assert_eq!(shed.status(), 503);
        assert_eq!(shed.headers()["retry-after"], "1", "the upstream's own answer, passed on");
    }
    assert_eq!(status("/api/ok").await.status(), 200, "another route of that service still answers");

    // A 503 without Retry-After is a failing service: it opens the breaker.
    for _ in 0..100 {
        status("/api/down").await;
    }
    let open = status("/api/ok").await;
    assert_eq!(open.status(), 503, "the breaker is open for the whole service");
    let problem: serde_json::Value = open.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("stopped calling it"), "{problem}");
    shutdown.trigger();
}
