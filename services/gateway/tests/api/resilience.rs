//! The gateway on the library's resilience layers, per upstream: retries
//! with a budget for what may be sent again, a POST tried once, and a
//! bulkhead that refuses at once when full, without touching the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::any;

use crate::helpers::{assert_problem, settings, spawn_gateway_with};

/// An upstream that answers every request 503, counting them.
async fn start_unavailable() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let router = Router::new().fallback(any(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { http::StatusCode::SERVICE_UNAVAILABLE }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, hits)
}

#[tokio::test]
async fn against_an_unavailable_upstream_gets_are_retried_within_the_budget_and_a_post_is_tried_once() {
    let mut settings = settings(100_000, 100_000);
    // A breaker that never opens, so every call reaches the retry layer.
    settings.breaker_min_throughput = u32::MAX;
    let (ratio, floor_per_sec) = (settings.retry_budget_ratio, settings.retry_budget_min_per_sec);
    let gw = spawn_gateway_with(settings).await;
    let (addr, hits) = start_unavailable().await;
    gw.registry.set("echo", &[&addr]);

    const GETS: usize = 100;
    for _ in 0..GETS {
        assert_eq!(gw.http.get(gw.url("/api/echo/x")).send().await.unwrap().status(), 503);
    }
    let reached = hits.load(Ordering::SeqCst);
    // The budget's window is 10 s: its floor is 10 s of the per-second
    // minimum, its share a ratio of the requests.
    let allowed = GETS + 10 * floor_per_sec as usize + (ratio * GETS as f64) as usize;
    assert!(reached > GETS, "GETs were retried at all ({reached} calls)");
    assert!(reached <= allowed, "{reached} calls reached the upstream; the budget allows {allowed}");

    let before = hits.load(Ordering::SeqCst);
    let post = gw.http.post(gw.url("/api/things")).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(post.status(), 503, "the upstream's answer passes through");
    assert_eq!(hits.load(Ordering::SeqCst) - before, 1, "a POST is tried once");
}

#[tokio::test]
async fn a_full_bulkhead_answers_503_with_retry_after_at_once_while_another_upstream_still_answers() {
    let mut settings = settings(100_000, 100_000);
    settings.upstream_max_concurrent = 1;
    let gw = spawn_gateway_with(settings).await;
    gw.echo.healed.store(true, Ordering::SeqCst);

    // `/api/slow` holds echo's one slot until its route's 300 ms timeout.
    let held = tokio::spawn({
        let (http, url) = (gw.http.clone(), gw.url("/api/slow"));
        async move { http.get(url).send().await.unwrap().status() }
    });
    while gw.echo.hits.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let refused = gw.http.get(gw.url("/api/echo/x")).send().await.unwrap();
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    let problem = assert_problem(refused, 503).await;
    assert!(problem["detail"].as_str().unwrap().contains("in flight"), "{problem}");
    assert_eq!(gw.echo.hits.load(Ordering::SeqCst), 1, "the refused call reached no upstream");

    // Another upstream ("broken", also served by echo) has a bulkhead of its own.
    assert_eq!(gw.get("/api/broken", &[]).await.0, 200);
    assert_eq!(held.await.unwrap(), 504);
}
