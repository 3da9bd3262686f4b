//! Retries through the REST client, against a real HTTP upstream.

use std::time::{Duration, Instant};

use comms::client::UpstreamConfig;
use comms::client::http::HttpClient;
use comms::resilience::{BreakerConfig, RetryConfig};

use crate::support::start_upstream;

/// Retries fast, a breaker that never opens, so only retry is under test.
pub fn config() -> UpstreamConfig {
    let mut config = UpstreamConfig::new("retry-upstream");
    config.retry = RetryConfig {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryConfig::default()
    };
    config.breaker = BreakerConfig { min_throughput: u32::MAX, ..BreakerConfig::default() };
    config
}

#[tokio::test]
async fn each_of_the_six_retryable_statuses_is_retried() {
    for status in [408, 429, 500, 502, 503, 504] {
        let (addr, upstream) = start_upstream().await;
        upstream.answer(vec![(status, vec![]), (200, vec![])]);
        let client = HttpClient::for_base_url(config(), &format!("http://{addr}"));
        let response = client.get("/thing").send().await.unwrap();
        assert_eq!(response.status(), 200, "{status} was retried into a success");
        assert_eq!(upstream.hits(), 2, "{status}: one retry");
    }
}

#[tokio::test]
async fn other_statuses_are_never_retried() {
    for status in [400, 401, 403, 404, 409, 422, 501] {
        let (addr, upstream) = start_upstream().await;
        upstream.always(status);
        let client = HttpClient::for_base_url(config(), &format!("http://{addr}"));
        let response = client.get("/thing").send().await.unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(upstream.hits(), 1, "{status} was not retried");
    }
}

#[tokio::test]
async fn retry_after_in_seconds_sets_the_delay() {
    let (addr, upstream) = start_upstream().await;
    upstream.answer(vec![(503, vec![("retry-after", "1".into())]), (200, vec![])]);
    let client = HttpClient::for_base_url(config(), &format!("http://{addr}"));
    let started = Instant::now();
    assert_eq!(client.get("/thing").send().await.unwrap().status(), 200);
    // The backoff alone would be at most 20 ms.
    assert!(started.elapsed() >= Duration::from_millis(900), "waited {:?}", started.elapsed());
}

#[tokio::test]
async fn retry_after_as_an_http_date_sets_the_delay() {
    let (addr, upstream) = start_upstream().await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    upstream.answer(vec![(429, vec![("retry-after", date)]), (200, vec![])]);
    let client = HttpClient::for_base_url(config(), &format!("http://{addr}"));
    let started = Instant::now();
    assert_eq!(client.get("/thing").send().await.unwrap().status(), 200);
    // The date has one-second resolution: at least one full second remains.
    assert!(started.elapsed() >= Duration::from_millis(900), "waited {:?}", started.elapsed());
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_ends_the_call_with_the_response() {
    let (addr, upstream) = start_upstream().await;
    upstream.answer(vec![(503, vec![("retry-after", "30".into())]), (200, vec![])]);
    let client = HttpClient::for_base_url(config(), &format!("http://{addr}"));
    assert_eq!(client.get("/thing").send().await.unwrap().status(), 503);
    assert_eq!(upstream.hits(), 1, "it did not sleep past the deadline to try again");
}

#[tokio::test]
async fn a_post_that_reached_the_upstream_is_retried_only_with_an_idempotency_key() {
    let (addr, upstream) = start_upstream().await;
    upstream.answer(vec![(503, vec![]), (201, vec![])]);
    let client = HttpClient::for_base_url(config(), &format!("http://{addr}"));
    assert_eq!(client.post("/orders").json(&"{}").send().await.unwrap().status(), 503);
    assert_eq!(upstream.hits(), 1, "a plain POST is not repeated");

    let (addr, upstream) = start_upstream().await;
    upstream.answer(vec![(503, vec![]), (201, vec![])]);
    let client = HttpClient::for_base_url(config(), &format!("http://{addr}"));
    let response = client.post("/orders").idempotency_key("order-42").json(&"{}").send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(upstream.hits(), 2);
}

#[tokio::test]
async fn a_post_refused_before_sending_is_retried() {
    // Nothing listens on this port: every attempt is refused, none is sent.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = config();
    config.service = "refused-post".into();
    let client = HttpClient::for_base_url(config, &format!("http://127.0.0.1:{port}"));
    let error = client.post("/orders").json(&"{}").send().await.unwrap_err();
    assert!(matches!(error, comms::client::CallError::Connect { .. }), "{error}");
    let metrics = comms::prometheus::install().render();
    assert!(
        metrics.contains(r#"client_retries_total{service="refused-post"} 2"#),
        "both retries were spent on the refused POST:\n{metrics}"
    );
}

#[tokio::test]
async fn no_attempt_starts_after_the_total_deadline() {
    let (addr, upstream) = start_upstream().await;
    upstream.always(503);
    *upstream.delay.lock().unwrap() = Duration::from_millis(250);
    let mut config = config();
    config.retry.max_attempts = 50;
    config.total_timeout = Duration::from_millis(900);
    let client = HttpClient::for_base_url(config, &format!("http://{addr}"));
    let started = Instant::now();
    let _ = client.get("/slow").send().await;
    let elapsed = started.elapsed();
    // About three attempts fit in 900 ms; the loop stops at the deadline
    // rather than running all fifty.
    assert!(upstream.hits() <= 4, "{} attempts", upstream.hits());
    assert!(elapsed < Duration::from_millis(1500), "the call ended near its deadline, not after {elapsed:?}");
}

#[tokio::test]
async fn with_the_upstream_fully_down_retries_stay_within_the_budget() {
    let (addr, upstream) = start_upstream().await;
    upstream.always(503);
    let mut config = config();
    config.retry.base_delay = Duration::from_millis(1);
    config.retry.max_delay = Duration::from_millis(2);
    let client = HttpClient::for_base_url(config, &format!("http://{addr}"));
    let calls = 200;
    for _ in 0..calls {
        let _ = client.get("/down").send().await;
    }
    // Without a budget: 3 attempts each, 600. With it: the floor (5/s over
    // 10 s = 50) plus 20 % of the calls (40).
    let hits = upstream.hits();
    assert!(hits > calls, "some retries happened: {hits}");
    assert!(hits <= calls + 50 + 40, "retries were bounded by the budget: {hits}");
}
