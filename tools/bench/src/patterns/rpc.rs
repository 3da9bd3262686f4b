//! The two request/response patterns: a server on 127.0.0.1:0 in this
//! process and a bare client for each, with no comms layers on either side.
//!
//! Both servers and clients set TCP_NODELAY: with Nagle's algorithm on, a
//! small write waiting for a delayed ACK can add 40 ms to one call, which
//! would measure the kernel's timers rather than the pattern.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::post;
use axum::serve::ListenerExt;
use comms::Shutdown;
use serde_json::Value;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Endpoint, Server};
use tonic_health::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::PAYLOAD_BYTES;
use crate::load::Call;

/// REST: `POST /echo` answers with the JSON body it got; a call checks
/// that it got the same back.
pub async fn rest(stop: Shutdown) -> anyhow::Result<Call> {
    let router = Router::new().route("/echo", post(echo));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/echo", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, router).with_graceful_shutdown(stop.wait()).await });

    // Environment proxies must not route 127.0.0.1 anywhere else.
    let client = reqwest::Client::builder().no_proxy().tcp_nodelay(true).build()?;
    let body = Arc::new(payload());
    Ok(Arc::new(move || {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        Box::pin(async move {
            let response = client.post(&url).json(&*body).send().await?.error_for_status()?;
            let echoed: Value = response.json().await?;
            anyhow::ensure!(echoed == *body, "the echo differs from what was sent");
            Ok(())
        })
    }))
}

async fn echo(axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    axum::Json(body)
}

/// About [`PAYLOAD_BYTES`] of JSON.
fn payload() -> Value {
    let bare = serde_json::json!({ "id": uuid::Uuid::nil(), "note": "" }).to_string().len();
    serde_json::json!({ "id": uuid::Uuid::now_v7(), "note": "x".repeat(PAYLOAD_BYTES.saturating_sub(bare)) })
}

/// gRPC: the standard health service. The call checks a service whose
/// name is [`PAYLOAD_BYTES`] long, registered as SERVING, so the request
/// carries a payload of the same size as the others and the server looks
/// it up before answering.
pub async fn grpc(stop: Shutdown) -> anyhow::Result<Call> {
    let service = format!("bench.{}", "x".repeat(PAYLOAD_BYTES - "bench.".len()));
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status(&service, ServingStatus::Serving).await;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(Server::builder().add_service(health).serve_with_incoming_shutdown(incoming, stop.wait()));

    let channel = Endpoint::from_shared(format!("http://{address}"))?
        .tcp_nodelay(true)
        .connect()
        .await
        .context("connect to the gRPC server")?;
    Ok(crate::grpc::health_check(HealthClient::new(channel), service, |mut client, request| {
        Box::pin(async move { client.check(request).await })
    }))
}
