//! A bulkhead: a cap on calls in flight to one upstream, so a slow upstream
//! cannot tie up every task and connection of the caller.
//!
//! Unlike tower's `ConcurrencyLimit`, which queues without bound, a full
//! bulkhead waits at most [`Bulkhead::max_wait`] (default 0: reject at
//! once) and then fails with [`BulkheadFull`]; queueing in front of a slow
//! upstream only moves the pile-up.
//!
//! The permit is owned by the call's future. It goes back to the pool when
//! the call completes, when its future is dropped (the caller was cancelled
//! or timed out), and when it unwinds from a panic: there is no code path
//! that forgets it.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bulkhead full: {max_concurrent} calls already in flight")]
pub struct BulkheadFull {
    pub max_concurrent: usize,
}

#[derive(Clone, Debug)]
pub struct Bulkhead {
    semaphore: Arc<Semaphore>,
    max_concurrent: usize,
    max_wait: Duration,
}

impl Bulkhead {
    pub fn new(max_concurrent: usize, max_wait: Duration) -> Self {
        Self { semaphore: Arc::new(Semaphore::new(max_concurrent)), max_concurrent, max_wait }
    }

    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// Permits not in use right now.
    pub fn available(&self) -> usize {
        self.semaphore.available_permits()
    }

    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, BulkheadFull> {
        let full = BulkheadFull { max_concurrent: self.max_concurrent };
        if let Ok(permit) = self.semaphore.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.max_wait.is_zero() {
            return Err(full);
        }
        match tokio::time::timeout(self.max_wait, self.semaphore.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(full),
        }
    }
}

impl<S> Layer<S> for Bulkhead {
    type Service = BulkheadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BulkheadService { inner, bulkhead: self.clone() }
    }
}

#[derive(Clone, Debug)]
pub struct BulkheadService<S> {
    inner: S,
    bulkhead: Bulkhead,
}

impl<S, Req> Service<Req> for BulkheadService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: From<BulkheadFull>,
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is decided per call, by the semaphore.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let bulkhead = self.bulkhead.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let _permit = bulkhead.acquire().await?;
            tower::ServiceExt::oneshot(inner, request).await
        })
    }
}
