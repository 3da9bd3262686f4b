//! The guard in front of a service's gRPC methods, as a tower layer on the
//! server. An operation is the method's full path,
//! `/user.v1.UserService/GetUser`.
//!
//! Health and reflection are open on every service port: probes and stock
//! tooling need no credential, and reflection tells only the schema, which
//! is in the repository anyway.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::header::AUTHORIZATION;
use tower::{Layer, Service};

use super::guard::{Guard, Refusal};

/// Path prefixes answered without a token.
const OPEN: &[&str] =
    &["/grpc.health.v1.Health/", "/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/"];

#[derive(Clone)]
pub struct GrpcGuardLayer {
    guard: Arc<Guard>,
}

impl GrpcGuardLayer {
    pub fn new(guard: Arc<Guard>) -> Self {
        Self { guard }
    }
}

impl<S> Layer<S> for GrpcGuardLayer {
    type Service = GrpcGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcGuard { inner, guard: self.guard.clone() }
    }
}

#[derive(Clone)]
pub struct GrpcGuard<S> {
    inner: S,
    guard: Arc<Guard>,
}

impl<S, B> Service<http::Request<B>> for GrpcGuard<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if OPEN.iter().any(|open| request.uri().path().starts_with(open)) {
            return Box::pin(self.inner.call(request));
        }
        // The clone that was polled ready is the one that serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            let operation = request.uri().path().to_owned();
            let authorization = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
            match guard.admit(&operation, authorization.as_deref()).await {
                Ok(principal) => {
                    if let Some(principal) = principal {
                        request.extensions_mut().insert(principal);
                    }
                    inner.call(request).await
                }
                Err(Refusal::Unauthenticated(error)) => Ok(tonic::Status::from(error).into_http()),
                Err(Refusal::Forbidden(detail)) => Ok(tonic::Status::permission_denied(detail).into_http()),
            }
        })
    }
}
