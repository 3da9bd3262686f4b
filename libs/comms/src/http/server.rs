//! The HTTP server every service runs: one layer stack, one serve loop.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

use super::admission::Admission;
use super::connection_limits::ConnectionLimits;
use super::framing::{self, FramingGuard};
use super::problem::Problem;
use super::trace::Origin;
use super::{metrics, request_id, trace};
use crate::error::ErrorKind;

/// Limits shared by every route of a service.
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// A handler that runs longer than this is answered with 504.
    pub request_timeout: Duration,
    /// Bodies larger than this are refused with 413 before they are buffered.
    pub body_limit_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self { request_timeout: Duration::from_secs(15), body_limit_bytes: 64 * 1024 }
    }
}

/// Wraps a service's routes in the standard stack. Outermost first:
///
/// 1. request id: everything below (span, logs, problems) can read it;
/// 2. trace span: continues the caller's trace and logs errors once;
///    then a request whose length two headers disagree on is refused
///    ([`framing`]);
/// 3. metrics: sees the final status, including the layers below;
/// 4. panic catcher: a panic becomes a 500 problem inside the span;
/// 5. timeout: bounds the handler, not the time spent in the layers above;
/// 6. body limit: applied by the extractors, so it answers 413 as a problem.
pub fn with_standard_layers(router: Router, limits: ServerLimits) -> Router {
    layered(router, limits, Origin::Caller)
}

/// The same stack at the edge of the system (the gateway), where each
/// request starts a trace of its own and links the client's
/// ([`Origin::Edge`]).
pub fn with_edge_layers(router: Router, limits: ServerLimits) -> Router {
    layered(router, limits, Origin::Edge)
}

fn layered(router: Router, limits: ServerLimits, origin: Origin) -> Router {
    let timeout = limits.request_timeout;
    router.fallback(not_found).method_not_allowed_fallback(method_not_allowed).layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn(request_id::layer))
            .layer(middleware::from_fn(move |req: Request, next: Next| trace::http_layer(req, next, origin)))
            .layer(middleware::from_fn(framing::refuse_marked))
            .layer(middleware::from_fn(metrics::http_layer))
            .layer(CatchPanicLayer::custom(|_panic| Problem::internal("handler panicked").into_response()))
            .layer(middleware::from_fn(move |req: Request, next: Next| with_timeout(req, next, timeout)))
            .layer(DefaultBodyLimit::max(limits.body_limit_bytes)),
    )
}

async fn with_timeout(request: Request, next: Next, timeout: Duration) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::new(ErrorKind::Timeout)
            .detail(format!("the request did not complete within {}s", timeout.as_secs_f32()))
            .into_response(),
    }
}

/// Serves `router` until `shutdown` resolves, then stops accepting and lets
/// requests in flight finish. The caller bounds the drain with a deadline.
///
/// Each connection is held to `limits` ([`ConnectionLimits`]): past the
/// connection cap it is closed as it is accepted, before a byte is read;
/// it must open (the HTTP/2 preface, an HTTP/1 request's headers) within
/// the header timeout, and its headers fit the header limit (431 past it);
/// it is closed once idle; HTTP/2 streams are capped per connection, and a
/// flood of resets ends it with GOAWAY.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let builder = connection_builder(&limits);
    let admission = Admission::new(limits, "http");
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: pause rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(admitted) = admission.admit(tcp) else { continue };
        let io = TokioIo::new(FramingGuard::new(admitted, limits.max_header_bytes, limits.header_read_timeout()));
        // Handlers read the peer as axum's `ConnectInfo` (the gateway's rate
        // limiter keys on it).
        let service = router.clone().layer(axum::Extension(ConnectInfo(peer)));
        let connection = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service)).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Resets of streams not yet taken up, per HTTP/2 connection, before
/// GOAWAY (h2's own default, made explicit for both listeners).
pub(crate) const HTTP2_MAX_PENDING_RESETS: usize = 20;

/// hyper's connection settings for `limits`, HTTP/1 and HTTP/2 alike.
fn connection_builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // hyper starts this clock when it waits for the next request, so on
        // a kept-alive connection it is the idle timeout: set to the header
        // timeout it closed idle connections after 10 s, under clients that
        // pool them for 15 (the gateway's). A head's own deadline, from its
        // first byte, is the framing guard's.
        .header_read_timeout(limits.idle_timeout())
        // The read buffer is where a request head must fit: past it hyper
        // answers 431.
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        // A peer that goes silent is found by pings, and dropped.
        .keep_alive_interval(limits.idle_timeout() / 2)
        .keep_alive_timeout(limits.header_read_timeout())
        // Streams a client opens and resets before the server takes them
        // up: past this many at once the connection ends with GOAWAY
        // (ENHANCE_YOUR_CALM), the answer to the HTTP/2 rapid-reset attack.
        .max_pending_accept_reset_streams(HTTP2_MAX_PENDING_RESETS);
    builder
}

/// Unknown paths get a 404 problem rather than an empty body.
async fn not_found() -> Problem {
    Problem::new(ErrorKind::NotFound).detail("no route matches this path")
}

/// A known path with the wrong method: 405 as a problem. axum still adds
/// the `Allow` header listing the methods the route has.
async fn method_not_allowed() -> Problem {
    Problem::new(ErrorKind::MethodNotAllowed).detail("this path does not accept this method")
}

/// A service's whole public HTTP surface: its API, `/openapi.json` (the
/// document the gateway aggregates), `/health/*` with `health`, and the
/// standard layers around all of it. `/metrics` is not here: it is served
/// on the internal listener only.
pub fn service_router(api: Router, openapi: utoipa::openapi::OpenApi, health: crate::health::Checks) -> Router {
    let openapi = std::sync::Arc::new(openapi);
    let routes = api
        .route("/openapi.json", axum::routing::get(move || std::future::ready(axum::Json(openapi.as_ref().clone()))))
        .merge(crate::health::router(health));
    with_standard_layers(routes, ServerLimits::default())
}
