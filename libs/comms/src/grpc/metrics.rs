//! Call counts and durations for gRPC servers, labelled by method and
//! status code, recorded when a call ends.
//!
//! A gRPC status travels in the trailers that close the response, so a
//! stream that sent messages and then failed is known only at its end; the
//! response headers say "OK so far". The layer therefore wraps the response
//! body and records the code from the trailers (or from the headers of a
//! trailers-only response, how errors before any message travel). A body
//! dropped before its trailers, the client having gone away, counts as
//! CANCELLED. Duration runs to that end: for a stream, its whole life.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};

/// `grpc-status` values this file names.
const CANCELLED: &str = "1";
const UNKNOWN: &str = "2";

#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcMetricsLayer;

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcMetrics<S> {
    inner: S,
}

impl<S, B, RB> Service<http::Request<B>> for GrpcMetrics<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: 'static,
{
    type Response = http::Response<MeteredBody<RB>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let call = Call { method: request.uri().path().to_owned(), started: Instant::now() };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let call = match response.headers().get("grpc-status") {
                // Trailers-only: the call ended before any message.
                Some(code) => {
                    call.end(code.to_str().unwrap_or(UNKNOWN));
                    None
                }
                None => Some(call),
            };
            Ok(response.map(|inner| MeteredBody { inner, call }))
        })
    }
}

/// One call, until its status is known.
struct Call {
    method: String,
    started: Instant,
}

impl Call {
    fn end(self, code: &str) {
        let labels = [("method", self.method), ("code", code.to_owned())];
        metrics::counter!("grpc_server_requests_total", &labels).increment(1);
        metrics::histogram!("grpc_server_request_duration_seconds", &labels)
            .record(self.started.elapsed().as_secs_f64());
    }
}

/// A response body that records its call when the trailers pass, or when it
/// is dropped without them.
pub struct MeteredBody<B> {
    inner: B,
    call: Option<Call>,
}

impl<B> MeteredBody<B> {
    fn end(&mut self, code: &str) {
        if let Some(call) = self.call.take() {
            call.end(code);
        }
    }
}

impl<B: Body + Unpin> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(|t| t.get("grpc-status")) {
                    let code = code.to_str().unwrap_or(UNKNOWN).to_owned();
                    self.end(&code);
                }
            }
            // The body broke, or ended without a status: neither is OK.
            Poll::Ready(Some(Err(_)) | None) => self.end(UNKNOWN),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for MeteredBody<B> {
    fn drop(&mut self) {
        // Dropped before its status was sent: the client went away (or the
        // server stopped under it).
        self.end(CANCELLED);
    }
}
