//! The circuit breaker as a tower layer: asks the breaker before each call
//! and reports each outcome, as judged by a classifier per protocol.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::resilience::{BreakerOpen, CircuitBreaker};

/// Decides whether a result counts against the upstream's health:
/// `Some(true)` a failure, `Some(false)` a success, `None` nothing learned
/// about the upstream (the call was refused on our side).
pub type Classifier<Resp, E> = fn(&Result<Resp, E>) -> Option<bool>;

pub struct BreakerLayer<Resp, E> {
    breaker: Arc<CircuitBreaker>,
    is_failure: Classifier<Resp, E>,
}

impl<Resp, E> Clone for BreakerLayer<Resp, E> {
    fn clone(&self) -> Self {
        Self { breaker: self.breaker.clone(), is_failure: self.is_failure }
    }
}

impl<Resp, E> BreakerLayer<Resp, E> {
    pub fn new(breaker: Arc<CircuitBreaker>, is_failure: Classifier<Resp, E>) -> Self {
        Self { breaker, is_failure }
    }
}

impl<S, Resp, E> Layer<S> for BreakerLayer<Resp, E> {
    type Service = BreakerService<S, Resp, E>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService { inner, breaker: self.breaker.clone(), is_failure: self.is_failure }
    }
}

pub struct BreakerService<S, Resp, E> {
    inner: S,
    breaker: Arc<CircuitBreaker>,
    is_failure: Classifier<Resp, E>,
}

impl<S: Clone, Resp, E> Clone for BreakerService<S, Resp, E> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), breaker: self.breaker.clone(), is_failure: self.is_failure }
    }
}

impl<S, Req, Resp, E> Service<Req> for BreakerService<S, Resp, E>
where
    S: Service<Req, Response = Resp, Error = E> + Clone + Send + 'static,
    S::Future: Send,
    E: From<BreakerOpen> + Send + 'static,
    Resp: Send + 'static,
    Req: Send + 'static,
{
    type Response = Resp;
    type Error = E;
    type Future = BoxFuture<'static, Result<Resp, E>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let permit = self.breaker.try_acquire();
        let inner = self.inner.clone();
        let is_failure = self.is_failure;
        Box::pin(async move {
            let permit = permit?;
            let result = tower::ServiceExt::oneshot(inner, request).await;
            match is_failure(&result) {
                Some(failed) => permit.report(failed),
                // Dropped unreported: ignored, or a failed probe if it was one.
                None => drop(permit),
            }
            result
        })
    }
}
