//! Request counts and latency for gRPC servers, labelled by method and
//! status code. Latency runs to the response headers: for a unary call that
//! is the whole call; for a stream it is the time to the first response.

use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use tower::{Layer, Service};

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
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let method = request.uri().path().to_owned();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            // An error before any message is sent travels in a trailers-only
            // response, so `grpc-status` is already in the headers; a call
            // that got this far without one has started successfully.
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| "0".to_owned(), str::to_owned);
            let labels = [("method", method), ("code", code)];
            metrics::counter!("grpc_server_requests_total", &labels).increment(1);
            metrics::histogram!("grpc_server_request_duration_seconds", &labels)
                .record(started.elapsed().as_secs_f64());
            Ok(response)
        })
    }
}
