//! The HTTP client the gateway sends upstream with, and why a send can
//! end without an answer of the upstream's to pass on.

use std::time::Duration;

use axum::body::Body;
use comms::discovery::NoInstances;
use comms::resilience::{BreakerOpen, BulkheadFull};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

pub type HttpClient = Client<HttpConnector, Body>;

/// One client (one connection pool) for every upstream; `socket_buffer`
/// sets the kernel buffers of each connection when given.
pub fn client(socket_buffer: Option<u32>) -> HttpClient {
    let mut connector = HttpConnector::new();
    let buffer = socket_buffer.map(|b| b as usize);
    connector.set_send_buffer_size(buffer);
    connector.set_recv_buffer_size(buffer);
    // A dead instance should fail over in a second, not a minute.
    connector.set_connect_timeout(Some(Duration::from_secs(1)));
    connector.set_nodelay(true);
    // Idle connections are dropped before an upstream's idle timeout could
    // close them under a request (a POST is not sent again).
    Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(comms::client::POOL_IDLE_TIMEOUT)
        .build(connector)
}

/// Why the gateway has no answer of the upstream's to pass on.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(transparent)]
    Open(#[from] BreakerOpen),
    #[error(transparent)]
    Full(#[from] BulkheadFull),
    #[error(transparent)]
    NoInstance(#[from] NoInstances),
    #[error("could not connect")]
    Connect,
    #[error("the connection closed before an answer")]
    Closed,
    #[error("no answer in time")]
    Timeout,
    #[error("an instance address does not form a URI")]
    BadAddress,
}
