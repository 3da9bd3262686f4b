//! When user or inventory fails: a prompt 503 or 504 that leaves nothing
//! half-written, so a retry with the same key succeeds; and the answers
//! that are about the request (unknown customer, unknown skus).

use std::time::{Duration, Instant};

use crate::helpers::{As, TestApp, assert_problem, lines, spawn_app, spawn_app_with};

/// "Promptly": far below any client's patience, generous for a loaded
/// machine.
const PROMPTLY: Duration = Duration::from_secs(10);

async fn assert_nothing_written(app: &TestApp) {
    assert_eq!(app.rows().await, (0, 0, 0, 0), "no order, line, outbox row or idempotency record");
}

async fn assert_retry_succeeds(app: &TestApp, me: &As, key: &str) {
    let retry = app.place(me, key, &lines(&[("MOUSE", 1)])).await;
    assert_eq!(retry.status(), 201, "the same key works once the upstream is back");
    assert!(retry.headers().get("idempotency-replayed").is_none());
    assert_eq!(app.rows().await, (1, 1, 1, 1));
}

#[tokio::test]
async fn user_refusing_connections_is_a_prompt_503_and_writes_nothing() {
    let app = spawn_app().await;
    let me = app.customer();
    app.user_proxy.refuse_connections();
    app.user_proxy.cut_connections();

    let started = Instant::now();
    let response = app.place(&me, "while-user-is-down", &lines(&[("MOUSE", 1)])).await;
    let problem = assert_problem(response, 503).await;
    assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
    assert!(problem["detail"].as_str().unwrap().contains("user-grpc"), "{problem}");
    assert_nothing_written(&app).await;

    app.user_proxy.restore();
    assert_retry_succeeds(&app, &me, "while-user-is-down").await;
}

#[tokio::test]
async fn inventory_refusing_connections_is_a_prompt_503_then_the_breaker_answers_with_retry_after() {
    let app = spawn_app().await;
    let me = app.customer();
    app.inventory_proxy.refuse_connections();
    app.inventory_proxy.cut_connections();

    let started = Instant::now();
    let response = app.place(&me, "while-inventory-is-down", &lines(&[("MOUSE", 1)])).await;
    let problem = assert_problem(response, 503).await;
    assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
    assert!(problem["detail"].as_str().unwrap().contains("inventory-grpc"), "{problem}");

    // Enough failures open the breaker; from then on the answer comes at
    // once and says when to come back.
    let mut retry_after = None;
    for _ in 0..30 {
        let response = app.place(&me, "while-inventory-is-down", &lines(&[("MOUSE", 1)])).await;
        assert_eq!(response.status(), 503);
        if let Some(value) = response.headers().get("retry-after") {
            retry_after = Some(value.to_str().unwrap().parse::<u64>().unwrap());
            break;
        }
    }
    let retry_after = retry_after.expect("the breaker opened and the 503 carries Retry-After");
    assert!((1..=5).contains(&retry_after), "at most the break duration: {retry_after}");
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn inventory_slower_than_the_deadline_is_a_504_and_writes_nothing() {
    let app = spawn_app_with(|settings| settings.own.upstream_timeout_ms = 300).await;
    let me = app.customer();
    app.inventory_proxy.add_latency(Duration::from_secs(2));

    let started = Instant::now();
    let response = app.place(&me, "while-inventory-is-slow", &lines(&[("MOUSE", 1)])).await;
    let problem = assert_problem(response, 504).await;
    assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
    assert!(problem["detail"].as_str().unwrap().contains("inventory-grpc"), "{problem}");
    assert_nothing_written(&app).await;

    app.inventory_proxy.restore();
    // What the slow link already holds would still trickle through, 2 s a
    // chunk: start afresh, as a real network would after a reconnect.
    app.inventory_proxy.cut_connections();
    assert_retry_succeeds(&app, &me, "while-inventory-is-slow").await;
}

#[tokio::test]
async fn user_slower_than_the_deadline_is_a_504() {
    let app = spawn_app_with(|settings| settings.own.upstream_timeout_ms = 300).await;
    let me = app.customer();
    app.user_proxy.add_latency(Duration::from_secs(2));
    let problem = assert_problem(app.place(&me, "slow-user", &lines(&[("MOUSE", 1)])).await, 504).await;
    assert!(problem["detail"].as_str().unwrap().contains("user-grpc"), "{problem}");
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn an_unknown_customer_is_forbidden_and_unknown_skus_are_named() {
    let app = spawn_app().await;
    let stranger = As { id: uuid::Uuid::now_v7(), roles: "customer" };
    let problem = assert_problem(app.place(&stranger, "k1", &lines(&[("MOUSE", 1)])).await, 403).await;
    assert!(problem["detail"].as_str().unwrap().contains("unknown customer"), "{problem}");

    let me = app.customer();
    let body = lines(&[("MOUSE", 1), ("UNICORN", 1), ("GRIFFIN", 2)]);
    let problem = assert_problem(app.place(&me, "k2", &body).await, 422).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("UNICORN") && detail.contains("GRIFFIN") && !detail.contains("MOUSE"), "{detail}");
    assert_nothing_written(&app).await;
}
