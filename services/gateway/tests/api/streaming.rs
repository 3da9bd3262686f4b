//! 50 MB each way through the gateway, intact, with backpressure: whatever
//! the gateway has taken in but not passed on stays small.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{BIG, pattern_byte, settings, spawn_gateway_with};

/// A gateway whose own sockets have 256 KiB buffers.
async fn spawn_gateway() -> crate::helpers::TestGateway {
    let mut settings = settings(10_000, 10_000);
    settings.socket_buffer_bytes = Some(256 * 1024);
    spawn_gateway_with(settings).await
}

const LIMIT: usize = 8 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_download_to_a_slow_reader_streams_with_backpressure() {
    let gw = spawn_gateway().await;
    // A client with a small receive buffer that reads slowly.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let addr = gw.base.trim_start_matches("http://").parse().unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    stream.write_all(b"GET /api/echo/big HTTP/1.1\r\nhost: gateway\r\nconnection: close\r\n\r\n").await.unwrap();

    // Skip the response head.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));

    let mut received = 0usize;
    let mut worst = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    while received < BIG {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the stream ended early at {received}");
        assert!(buf[..n].iter().enumerate().all(|(i, b)| *b == pattern_byte(received + i)), "corrupted at {received}");
        received += n;
        worst = worst.max(gw.echo.sent.load(Ordering::SeqCst).saturating_sub(received));
        // About 25 MB/s: far slower than the upstream could send.
        tokio::time::sleep(Duration::from_micros(n as u64 / 25)).await;
    }
    assert_eq!(received, BIG);
    assert!(worst < LIMIT, "{} MB were in flight between upstream and client", worst / (1024 * 1024));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_upload_to_a_slow_upstream_streams_with_backpressure() {
    let gw = spawn_gateway().await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    let addr = gw.base.trim_start_matches("http://").parse().unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /api/echo/upload HTTP/1.1\r\nhost: gateway\r\ncontent-length: {BIG}\r\nconnection: close\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.unwrap();

    const CHUNK: usize = 64 * 1024;
    let mut sent = 0usize;
    let mut worst = 0usize;
    while sent < BIG {
        let chunk: Vec<u8> = (sent..sent + CHUNK).map(pattern_byte).collect();
        // Returns once the kernel took the bytes: as fast as the path allows.
        writer.write_all(&chunk).await.unwrap();
        sent += CHUNK;
        worst = worst.max(sent.saturating_sub(gw.echo.received.load(Ordering::SeqCst)));
    }
    let mut reply = Vec::new();
    reader.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains(&format!("\"received\":{BIG}")), "{reply}");
    assert!(gw.echo.upload_intact.load(Ordering::SeqCst), "every byte arrived as sent");
    assert!(worst < LIMIT, "{} MB were in flight between client and upstream", worst / (1024 * 1024));
}
