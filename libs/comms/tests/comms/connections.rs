//! What one client connection may hold of the library's HTTP server
//! (`comms::http::ConnectionLimits`): half-sent requests are closed at the
//! header timeout while others are served, connections past the cap are
//! closed as they arrive, idle connections are closed, and an oversized
//! header block gets 431.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use comms::http::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short clocks, so the tests take seconds; the rule they show is the same
/// at the defaults.
fn limits() -> ConnectionLimits {
    ConnectionLimits { header_read_timeout_secs: 1, idle_timeout_secs: 2, ..ConnectionLimits::default() }
}

async fn serve(limits: ConnectionLimits) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/", get(|| async { "ok" }));
    tokio::spawn(comms::http::serve(listener, router, limits, std::future::pending()));
    addr
}

/// How long until the server ends the connection (EOF or reset), reading
/// whatever it sends; `None` if it is still open after `within`.
async fn closed_after(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(within.saturating_sub(started.elapsed()), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

async fn get_ok(addr: std::net::SocketAddr) -> bool {
    let response = reqwest::Client::new().get(format!("http://{addr}/")).send().await;
    response.is_ok_and(|r| r.status() == 200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_at_the_header_timeout_while_others_are_served() {
    let addr = serve(limits()).await;
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        stalled.push(stream);
    }
    for _ in 0..20 {
        assert!(get_ok(addr).await, "an ordinary request is served beside the stalled ones");
    }
    for (n, stream) in stalled.iter_mut().enumerate() {
        let closed = closed_after(stream, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "half-sent request {n} is still open long past the header timeout");
    }
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once_and_service_resumes_when_one_ends() {
    let addr = serve(ConnectionLimits { max_connections: 3, ..limits() }).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let stream = TcpStream::connect(addr).await.unwrap();
        held.push(stream);
    }
    // Give the server the time to accept the three.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let closed = closed_after(&mut extra, Duration::from_millis(900)).await;
    assert!(closed.is_some(), "the fourth connection is closed before the header timeout could have");
    assert!(!get_ok(addr).await, "no request is served past the cap");

    drop(held.pop());
    let mut resumed = false;
    for _ in 0..20 {
        if get_ok(addr).await {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(resumed, "a slot freed by a closed connection serves the next one");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let addr = serve(limits()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "the first request is served");
    // Kept alive, then nothing: the server ends it by its limits, not the
    // client.
    let closed = closed_after(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "an idle keep-alive connection stays open");
}

#[tokio::test]
async fn a_header_block_past_the_limit_gets_431() {
    let addr = serve(limits()).await;
    let big = "x".repeat(20 * 1024);
    let response = reqwest::Client::new().get(format!("http://{addr}/")).header("x-big", big).send().await.unwrap();
    assert_eq!(response.status(), 431);
    let fits = "x".repeat(8 * 1024);
    let response = reqwest::Client::new().get(format!("http://{addr}/")).header("x-big", fits).send().await.unwrap();
    assert_eq!(response.status(), 200, "a header block within the limit is served");
}
