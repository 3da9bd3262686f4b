//! The library's connection limits on this service's own ports, HTTP and
//! gRPC: a half-sent request and an unfinished HTTP/2 preface are closed at
//! the header timeout, and a connection past the cap is closed at once.
//! (Every limit in detail: libs/comms/tests/comms/connections.rs.)

use std::net::SocketAddr;
use std::time::Duration;

use comms::http::ConnectionLimits;
use testkit::sockets::closed_within;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::spawn_app_with;

/// A short header timeout, so the test takes seconds, and an idle timeout
/// long enough that it cannot be what closes anything here.
const LIMITS: ConnectionLimits = ConnectionLimits {
    header_read_timeout_secs: 1,
    idle_timeout_secs: 30,
    max_connections: 4,
    ..ConnectionLimits::DEFAULT
};

async fn sent(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

#[tokio::test]
async fn slow_openings_are_closed_at_the_header_timeout_and_connections_past_the_cap_at_once_on_both_ports() {
    let app = spawn_app_with(|s| s.service.connections = LIMITS).await;
    let http: SocketAddr = app.api.base.trim_start_matches("http://").parse().unwrap();
    let grpc = app.api.grpc_addr();

    let mut half_sent = sent(http, b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    let mut half_preface = sent(grpc, b"PRI * HTTP/2.0\r\n").await;
    assert!(closed_within(&mut half_sent, Duration::from_secs(3)).await.is_some(), "HTTP: a half-sent request");
    assert!(closed_within(&mut half_preface, Duration::from_secs(3)).await.is_some(), "gRPC: an unfinished preface");

    for (port, addr) in [("HTTP", http), ("gRPC", grpc)] {
        let mut held = Vec::new();
        for _ in 0..LIMITS.max_connections {
            held.push(TcpStream::connect(addr).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let closed = closed_within(&mut extra, Duration::from_millis(600)).await;
        assert!(closed.is_some(), "{port}: the connection past the cap is closed before the header timeout could have");
    }
}
