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
    // The recorder is process-wide: installed before the call, so the
    // retries are counted even when this test runs alone.
    let recorder = comms::prometheus::install();
    let mut config = config();
    config.service = "refused-post".into();
    let client = HttpClient::for_base_url(config, &format!("http://127.0.0.1:{port}"));
    let error = client.post("/orders").json(&"{}").send().await.unwrap_err();
    assert!(matches!(error, comms::client::CallError::Connect { .. }), "{error}");
    let metrics = recorder.render();
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

/// An HTTP/1.1 upstream that holds its first request without ever answering
/// and answers every later one 200. It counts requests and notes when the
/// client closes the held connection.
#[derive(Clone, Default)]
struct Stalling {
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    first_closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Stalling {
    async fn start() -> (std::net::SocketAddr, Self) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = Self::default();
        let seen = upstream.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    if seen.requests.fetch_add(1, Ordering::SeqCst) == 0 {
                        // Hold it: the next read returns only when the
                        // client gives up on this connection.
                        let _ = tokio::time::timeout(Duration::from_secs(30), socket.read(&mut buf)).await;
                        seen.first_closed.store(true, Ordering::SeqCst);
                        return;
                    }
                    let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        (addr, upstream)
    }

    fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_stalled_first_try_is_cut_at_the_per_try_deadline_and_the_retry_succeeds_within_the_total() {
    let (addr, upstream) = Stalling::start().await;
    let mut config = config();
    config.per_try_timeout = Duration::from_millis(300);
    config.total_timeout = Duration::from_secs(10);
    let client = HttpClient::for_base_url(config, &format!("http://{addr}"));

    let response = client.get("/thing").send().await.expect("the second try answers within the total");
    assert_eq!(response.status(), 200);
    assert_eq!(upstream.requests(), 2, "the stalled try and the retry");
    // The client, not the upstream, ended the stalled exchange.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while !upstream.first_closed.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(closed.await.is_ok(), "the first connection was closed by the client");
}

#[tokio::test]
async fn with_the_per_try_deadline_equal_to_the_total_the_same_stall_fails_the_call() {
    let (addr, upstream) = Stalling::start().await;
    let mut config = config();
    config.per_try_timeout = Duration::from_millis(500);
    config.total_timeout = Duration::from_millis(500);
    let client = HttpClient::for_base_url(config, &format!("http://{addr}"));

    let result = client.get("/thing").send().await;
    assert!(result.is_err(), "no time is left for a retry: {:?}", result.map(|r| r.status()));
    assert_eq!(upstream.requests(), 1);
}
