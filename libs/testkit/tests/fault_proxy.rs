//! Each fault the proxy offers, shown against a real TCP echo server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use testkit::FaultProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<Vec<u8>> {
    stream.write_all(message).await?;
    let mut reply = vec![0u8; message.len()];
    stream.read_exact(&mut reply).await?;
    Ok(reply)
}

#[tokio::test]
async fn a_clean_proxy_forwards_both_ways() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut stream, b"hello").await.unwrap(), b"hello");
}

#[tokio::test]
async fn added_latency_delays_every_round_trip_until_restored() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    proxy.add_latency(Duration::from_millis(150));
    let started = Instant::now();
    round_trip(&mut stream, b"slow").await.unwrap();
    // Once on the way in, once on the way out.
    assert!(started.elapsed() >= Duration::from_millis(300), "took {:?}", started.elapsed());

    proxy.restore();
    let started = Instant::now();
    round_trip(&mut stream, b"fast").await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(150), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn refused_connections_fail_at_connect_and_come_back_on_restore() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    proxy.refuse_connections();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let error = TcpStream::connect(proxy.addr()).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);

    proxy.restore();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut stream, b"back").await.unwrap(), b"back");
}

#[tokio::test]
async fn cutting_closes_live_connections_but_new_ones_work() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut live = TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut live, b"before").await.unwrap();

    proxy.cut_connections();
    let mut buf = [0u8; 8];
    let read =
        tokio::time::timeout(Duration::from_secs(2), live.read(&mut buf)).await.expect("the cut is seen at once");
    assert!(matches!(read, Ok(0) | Err(_)), "the live connection was closed: {read:?}");

    let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut fresh, b"after").await.unwrap(), b"after");
}

#[tokio::test]
async fn a_blackhole_swallows_traffic_without_closing() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    proxy.blackhole();
    stream.write_all(b"into the void").await.unwrap();
    let mut buf = [0u8; 16];
    let outcome = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await;
    assert!(outcome.is_err(), "no reply and no close: the peer just hangs");
}
