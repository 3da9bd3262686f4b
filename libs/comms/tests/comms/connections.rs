//! What one client connection may hold of the library's HTTP and gRPC
//! servers (`comms::http::ConnectionLimits`): half-sent requests and
//! unfinished HTTP/2 prefaces are closed at the header timeout while others
//! are served, connections past the cap are closed as they arrive, idle
//! connections are closed, an oversized header block gets 431, streams past
//! the per-connection limit are refused and a burst of resets ends the
//! connection with GOAWAY.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use comms::grpc::GrpcServices;
use comms::http::ConnectionLimits;
use testkit::h2c::{self, H2c};
use testkit::sockets::closed_within;
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

/// The gRPC server with no services of its own: health and reflection.
async fn serve_grpc(limits: ConnectionLimits) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(comms::grpc::serve(listener, GrpcServices::new(), limits, comms::Shutdown::new()));
    addr
}

/// Both listeners, each under `limits`.
async fn both(limits: ConnectionLimits) -> [(&'static str, std::net::SocketAddr); 2] {
    [("http", serve(limits).await), ("grpc", serve_grpc(limits).await)]
}

/// A health check over a new connection answers within a second.
async fn grpc_ok(addr: std::net::SocketAddr) -> bool {
    let call = async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).ok()?.connect().await.ok()?;
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
        client.check(tonic_health::pb::HealthCheckRequest::default()).await.ok()
    };
    matches!(tokio::time::timeout(Duration::from_secs(1), call).await, Ok(Some(_)))
}

/// A request or call on `port` is answered.
async fn served(port: &str, addr: std::net::SocketAddr) -> bool {
    if port == "grpc" { grpc_ok(addr).await } else { get_ok(addr).await }
}

async fn get_ok(addr: std::net::SocketAddr) -> bool {
    let response = reqwest::Client::new().get(format!("http://{addr}/")).send().await;
    response.is_ok_and(|r| r.status() == 200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_at_the_header_timeout_while_others_are_served() {
    // A long idle timeout, so only the header timeout can close them in time.
    let addr = serve(ConnectionLimits { idle_timeout_secs: 30, ..limits() }).await;
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
        let closed = closed_within(stream, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "half-sent request {n} is still open long past the header timeout");
    }
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once_and_service_resumes_when_one_ends_on_either_port() {
    for (port, addr) in both(ConnectionLimits { max_connections: 3, ..limits() }).await {
        let mut held = Vec::new();
        for _ in 0..3 {
            let stream = TcpStream::connect(addr).await.unwrap();
            held.push(stream);
        }
        // Give the server the time to accept the three.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let closed = closed_within(&mut extra, Duration::from_millis(600)).await;
        assert!(closed.is_some(), "{port}: the fourth connection is closed before the header timeout could have");
        assert!(!served(port, addr).await, "{port}: nothing is served past the cap");

        drop(held.pop());
        let mut resumed = false;
        for _ in 0..20 {
            if served(port, addr).await {
                resumed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(resumed, "{port}: a slot freed by a closed connection serves the next one");
    }
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
    let closed = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "an idle keep-alive connection stays open");
}

#[tokio::test]
async fn a_kept_alive_connection_outlives_the_header_timeout_and_closes_at_the_idle_timeout() {
    // Header timeout 1 s, idle 3 s: a client that pools connections for
    // less than the idle timeout (the gateway's 15 s against 30 s) must find
    // them open.
    let addr = serve(ConnectionLimits { idle_timeout_secs: 3, ..limits() }).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 1024];
    for wait in [Duration::ZERO, Duration::from_millis(2000)] {
        tokio::time::sleep(wait).await;
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "served after {wait:?} idle");
    }
    let started = tokio::time::Instant::now();
    let closed = closed_within(&mut stream, Duration::from_secs(6)).await;
    assert!(closed.is_some(), "closed once idle for the idle timeout");
    assert!(started.elapsed() >= Duration::from_secs(2), "not at the header timeout: {:?}", started.elapsed());
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

#[tokio::test]
async fn an_http2_preface_never_finished_is_closed_at_the_header_timeout_on_either_port() {
    // A long idle timeout, so only the opening deadline can end it in time.
    for (port, addr) in both(ConnectionLimits { idle_timeout_secs: 5, ..limits() }).await {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // Half the preface, a byte at a time: each byte is movement, so only
        // the opening deadline can end this.
        // The first bytes are taken (nothing closes the connection at
        // once); the header timeout (1 s) ends it part way.
        for (n, byte) in b"PRI * HTTP/2.0\r\n".iter().enumerate() {
            let written = stream.write_all(&[*byte]).await;
            assert!(n > 4 || written.is_ok(), "{port}: closed after {n} bytes");
            if written.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let closed = closed_within(&mut stream, Duration::from_secs(2)).await;
        assert!(closed.is_some(), "{port}: an unfinished preface is still open past the header timeout");
    }
}

#[tokio::test]
async fn a_stream_past_the_per_connection_limit_is_refused_on_either_port() {
    let limit = ConnectionLimits::default().http2_max_streams;
    for (port, addr) in both(limits()).await {
        let mut client = H2c::connect(addr).await.unwrap();
        // Streams 1, 3, … : one more than the limit, none of them ended.
        let ids = (0..=limit).map(|n| 2 * n + 1);
        let last = 2 * limit + 1;
        client.open(ids, "/", false).await.unwrap();
        let refused = client
            .wait_for(Duration::from_secs(5), |f| f.kind == h2c::RST_STREAM && f.stream == last)
            .await
            .unwrap_or_else(|| panic!("{port}: stream {last} was never reset"));
        assert_eq!(refused.error_code(), Some(h2c::REFUSED_STREAM), "{port}: {refused:?}");
    }
}

#[tokio::test]
async fn a_burst_of_stream_resets_ends_the_connection_with_goaway_on_either_port() {
    for (port, addr) in both(limits()).await {
        let mut client = H2c::connect(addr).await.unwrap();
        // The rapid-reset pattern: open and cancel at once, many times.
        client.open((0..200).map(|n| 2 * n + 1), "/", true).await.unwrap();
        let goaway = client
            .wait_for(Duration::from_secs(5), |f| f.kind == h2c::GOAWAY)
            .await
            .unwrap_or_else(|| panic!("{port}: no GOAWAY after 200 resets"));
        assert_eq!(goaway.error_code(), Some(h2c::ENHANCE_YOUR_CALM), "{port}: {goaway:?}");
        assert!(served(port, addr).await, "{port}: other clients are still served");
    }
}
