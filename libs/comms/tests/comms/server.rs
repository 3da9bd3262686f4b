//! The standard HTTP layer stack turns every failure inside a service into
//! a problem+json answer carrying the request id.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use comms::http::{ApiJson, ServerLimits, with_standard_layers};
use serde_json::Value;
use testkit::assert_problem;

async fn serve(router: Router, limits: ServerLimits) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(comms::http::serve(
        listener,
        with_standard_layers(router, limits),
        Default::default(),
        std::future::pending(),
    ));
    format!("http://{addr}")
}

async fn panics() -> &'static str {
    panic!("a bug in a handler")
}

#[tokio::test]
async fn a_panic_a_timeout_and_an_oversized_body_are_problems_with_the_request_id() {
    testkit::otlp();
    let router = Router::new()
        .route("/panic", get(panics))
        .route("/slow", get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }))
        .route("/echo", post(|ApiJson(body): ApiJson<Value>| async move { axum::Json(body) }));
    let limits = ServerLimits { request_timeout: Duration::from_millis(200), body_limit_bytes: 1024 };
    let base = serve(router, limits).await;
    let http = reqwest::Client::new();

    let panicked = assert_problem(http.get(format!("{base}/panic")).send().await.unwrap(), 500).await;
    assert!(panicked.get("detail").is_none(), "internal details stay in the log: {panicked}");
    assert_problem(http.get(format!("{base}/slow")).send().await.unwrap(), 504).await;
    let big = serde_json::json!({ "data": "x".repeat(4096) });
    assert_problem(http.post(format!("{base}/echo")).json(&big).send().await.unwrap(), 413).await;
    let small = http.post(format!("{base}/echo")).json(&serde_json::json!({ "ok": true })).send().await.unwrap();
    assert_eq!(small.status(), 200, "the server still works");
}
