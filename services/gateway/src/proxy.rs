//! Forwarding one request to one upstream instance, streaming both ways.
//!
//! Bodies are never buffered: hyper pulls from the client only as fast as
//! the upstream takes, and the other way round, so memory per request stays
//! at a few socket buffers whatever the body size.
//!
//! | upstream condition | answer |
//! |---|---|
//! | breaker open | 503, `Retry-After` = the rest of the break |
//! | no instance in discovery | 503 |
//! | no connection (refused, or no answer within 1 s) | 502; a GET/HEAD is first tried once more with a fresh pick, usually another instance |
//! | no response headers within the route's timeout | 504 |
//! | anything it answers | passed through as it is |

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use comms::discovery::Balancer;
use comms::error::ErrorKind;
use comms::http::Problem;
use comms::resilience::CircuitBreaker;
use http::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::routes::Route;

pub type HttpClient = Client<HttpConnector, Body>;

/// One upstream service: its instances and its breaker.
pub struct Upstream {
    pub balancer: Balancer,
    pub breaker: Arc<CircuitBreaker>,
}

pub fn client(socket_buffer: Option<u32>) -> HttpClient {
    let mut connector = HttpConnector::new();
    let buffer = socket_buffer.map(|b| b as usize);
    connector.set_send_buffer_size(buffer);
    connector.set_recv_buffer_size(buffer);
    // A dead instance should fail over in a second, not a minute.
    connector.set_connect_timeout(Some(std::time::Duration::from_secs(1)));
    connector.set_nodelay(true);
    Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector)
}

/// Sends `request` (path already rewritten, headers prepared) upstream.
pub async fn forward(client: &HttpClient, upstream: &Upstream, route: &Route, request: Request<Body>) -> Response {
    let permit = match upstream.breaker.try_acquire() {
        Ok(permit) => permit,
        Err(open) => {
            return Problem::new(ErrorKind::Unavailable)
                .detail(format!("{} is failing; the gateway stopped calling it for now", route.service))
                .retry_after(open.remaining)
                .into_response();
        }
    };
    let repeatable = matches!(*request.method(), Method::GET | Method::HEAD);
    let (parts, body) = request.into_parts();
    let mut body = Some(body);
    let attempts = if repeatable { 2 } else { 1 };
    for attempt in 1..=attempts {
        let picked = match upstream.balancer.pick() {
            Ok(picked) => picked,
            Err(none) => {
                drop(permit);
                return Problem::new(ErrorKind::Unavailable).detail(none.to_string()).into_response();
            }
        };
        let mut outgoing = Request::from_parts(parts.clone(), body.take().unwrap_or_else(Body::empty));
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        *outgoing.uri_mut() = match format!("http://{}{path}", picked.instance.address).parse() {
            Ok(uri) => uri,
            Err(_) => return Problem::internal("an instance address does not form a URI").into_response(),
        };
        match tokio::time::timeout(route.timeout(), client.request(outgoing)).await {
            Ok(Ok(response)) => {
                let failed = response.status().is_server_error();
                picked.report(failed);
                permit.report(failed);
                let (mut head, incoming) = response.into_parts();
                crate::headers::for_client(&mut head.headers);
                return Response::from_parts(head, Body::new(incoming));
            }
            Ok(Err(error)) if error.is_connect() && attempt < attempts => {
                picked.report(true);
                tracing::warn!(service = %route.service, instance = %picked.instance.id, "connect failed; trying another instance");
            }
            Ok(Err(error)) => {
                picked.report(true);
                permit.failure();
                let detail = if error.is_connect() {
                    format!("could not connect to {}", route.service)
                } else {
                    format!("{} closed the connection", route.service)
                };
                return Problem::new(ErrorKind::BadGateway).detail(detail).into_response();
            }
            Err(_) => {
                picked.report(true);
                permit.failure();
                return Problem::new(ErrorKind::Timeout)
                    .detail(format!("{} did not answer within {} ms", route.service, route.timeout().as_millis()))
                    .into_response();
            }
        }
    }
    unreachable!("the last attempt always returns")
}
