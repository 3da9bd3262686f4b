//! The body limit at the edge: a declared length over it is refused before
//! any upstream is called; a chunked body is cut off as it passes it; a body
//! exactly at it goes through intact.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::helpers::{TestGateway, assert_problem, pattern_byte, settings, spawn_gateway_with};

const LIMIT: usize = 4096;

async fn gateway_with_a_small_limit() -> TestGateway {
    let mut settings = settings(10_000, 10_000);
    settings.body_limit_bytes = LIMIT;
    spawn_gateway_with(settings).await
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(pattern_byte).collect()
}

/// A body with no declared length: sent chunked, 1 KiB at a time.
fn chunked(len: usize) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = pattern(len).chunks(1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures::stream::iter(chunks))
}

#[tokio::test]
async fn a_declared_length_one_byte_over_the_limit_is_the_gateways_413_and_no_upstream_sees_it() {
    let gw = gateway_with_a_small_limit().await;
    let response = gw.http.post(gw.url("/api/echo/upload")).body(pattern(LIMIT + 1)).send().await.unwrap();
    let problem = assert_problem(response, 413).await;
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains(&LIMIT.to_string())), "{problem}");
    assert_eq!(gw.echo.hits.load(Ordering::SeqCst), 0, "the upstream saw no request");
}

#[tokio::test]
async fn a_chunked_body_passing_the_limit_never_reaches_the_upstream_whole_and_gets_no_success() {
    let gw = gateway_with_a_small_limit().await;
    let sent = gw.http.post(gw.url("/api/echo/upload")).body(chunked(LIMIT + 1)).send().await;
    if let Ok(response) = &sent {
        assert!(!response.status().is_success(), "the client was told {}", response.status());
    }
    // Whatever the upstream got, it got before the cut, and no more later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = gw.echo.received.load(Ordering::SeqCst);
    assert!(received <= LIMIT, "the upstream read {received} bytes of a {} byte body", LIMIT + 1);
}

#[tokio::test]
async fn a_body_exactly_at_the_limit_arrives_intact_declared_or_chunked() {
    let gw = gateway_with_a_small_limit().await;
    for body in [reqwest::Body::from(pattern(LIMIT)), chunked(LIMIT)] {
        gw.echo.upload_matched.store(false, Ordering::SeqCst);
        let response = gw.http.post(gw.url("/api/echo/upload")).body(body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let reply: serde_json::Value = response.json().await.unwrap();
        assert_eq!(reply["received"], LIMIT);
        assert!(gw.echo.upload_matched.load(Ordering::SeqCst), "every byte arrived as sent");
    }
}
