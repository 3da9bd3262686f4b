//! The span around every HTTP request: named after the route, continuing the
//! caller's trace, and the one place a failed request is logged.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::metrics::route_of;
use super::problem::InternalCause;
use super::request_id;

pub async fn http_layer(request: Request, next: Next) -> Response {
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
    let _ = span.set_parent(crate::telemetry::extract_http(request.headers()));

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
