//! The span around every HTTP request: named after the route, continuing the
//! caller's trace (or, at the edge, starting its own), and the one place a
//! failed request is logged.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::trace::TraceContextExt;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::metrics::route_of;
use super::problem::InternalCause;
use super::request_id;

/// Where a request's trace comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Inside the system: the span continues the caller's trace, whose
    /// sampling decision it follows.
    Caller,
    /// At the edge (the gateway): a client's `traceparent` is not trusted
    /// to decide anything. Every request starts a trace of its own, sampled
    /// by this process's sampler, so a client's "not sampled" flag cannot
    /// hide a request from tracing (nor a forced flag flood the collector);
    /// the client's span, if it sent one, is linked, not continued.
    Edge,
}

pub async fn http_layer(request: Request, next: Next, origin: Origin) -> Response {
    let sent = crate::telemetry::extract_http(request.headers());
    traced(request, next, |span| match origin {
        Origin::Caller => {
            let _ = span.set_parent(sent);
        }
        Origin::Edge => {
            let linked = sent.span().span_context().clone();
            if linked.is_valid() {
                span.add_link(linked);
            }
        }
    })
    .await
}

async fn traced(request: Request, next: Next, relate: impl FnOnce(&tracing::Span)) -> Response {
    let route = route_of(&request);
    let method = request.method().clone();
    let request_id = request.headers().get(request_id::HEADER).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let span = tracing::info_span!(
        "http request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        request_id = %request_id,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    // Must happen before the span is first entered.
    relate(&span);

    let response = next.run(request).instrument(span.clone()).await;

    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        span.record("otel.status_code", "ERROR");
        tracing::error!(parent: &span, %cause, status = status.as_u16(), "request failed");
    } else if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
        tracing::warn!(parent: &span, status = status.as_u16(), "request failed");
    }
    response
}
