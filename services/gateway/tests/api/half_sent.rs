//! The gateway as a process, with its default limits, under a crowd of
//! half-sent requests: each is closed at the header timeout while ordinary
//! requests keep being answered. Their latency, beside a quiet run's, is a
//! report (printed, and written to target/reports/); nothing asserts on
//! time but the closing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use comms::http::ConnectionLimits;
use testkit::process::ServiceProcess;
use testkit::sockets::closed_within;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const HALF_SENT: usize = 300;
const ORDINARY: usize = 200;

/// `ORDINARY` requests one after another, each on a new connection (so
/// accepting is measured too), every one answered 200.
async fn ordinary_latencies(addr: SocketAddr) -> Vec<Duration> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut latencies = Vec::with_capacity(ORDINARY);
    for n in 0..ORDINARY {
        let started = Instant::now();
        let response = client.get(format!("http://{addr}/health/live")).send().await;
        let status = response.map(|r| r.status().as_u16());
        assert!(matches!(status, Ok(200)), "ordinary request {n} was not answered: {status:?}");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    latencies
}

fn summary(latencies: &[Duration]) -> String {
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    format!("p50 {:?}, p99 {:?}, max {:?}", at(0.5), at(0.99), at(1.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_to_the_gateway_process_are_closed_at_the_header_timeout_while_others_are_answered() {
    let gateway = ServiceProcess::spawn(env!("CARGO_BIN_EXE_gateway"), &crate::helpers::process_env()).await.unwrap();
    let addr = gateway.addr("http_addr");
    let timeout = ConnectionLimits::default().header_read_timeout();

    let quiet = ordinary_latencies(addr).await;

    let started = Instant::now();
    let mut stalled = Vec::with_capacity(HALF_SENT);
    for _ in 0..HALF_SENT {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Never-Ends: ").await.unwrap();
        stalled.push(stream);
    }
    let loaded = ordinary_latencies(addr).await;

    // Closed at the header timeout; the margin is for a loaded machine, not
    // a measure of anything.
    let deadline = started + timeout + Duration::from_secs(5);
    let mut latest = Duration::ZERO;
    for (n, stream) in stalled.iter_mut().enumerate() {
        let closed = closed_within(stream, deadline.saturating_duration_since(Instant::now())).await;
        assert!(closed.is_some(), "half-sent request {n} is still open {:?} after it was sent", started.elapsed());
        latest = started.elapsed();
    }

    let report = format!(
        "gateway process, default limits (header timeout {timeout:?}):\n\
         {ORDINARY} ordinary requests, quiet:                       {}\n\
         {ORDINARY} ordinary requests, beside {HALF_SENT} half-sent ones: {}\n\
         the last half-sent request closed {latest:?} after the first was sent\n",
        summary(&quiet),
        summary(&loaded),
    );
    println!("{report}");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/reports");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(format!("{dir}/gateway-half-sent.txt"), report).unwrap();
}
