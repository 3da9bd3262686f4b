//! The retry loop for HTTP calls, outermost in the client stack: it owns the
//! call's total deadline and gives each attempt its share of it.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use super::CallError;
use crate::resilience::deadline;
use crate::resilience::retry::{self, RetryBudget, RetryConfig};

pub type Req = http::Request<Bytes>;
pub type Resp = http::Response<Bytes>;

/// When the current attempt must end; set by the retry loop, read by the
/// transport (and sent as `grpc-timeout` on gRPC).
#[derive(Clone, Copy, Debug)]
pub struct AttemptDeadline(pub Instant);

#[derive(Clone)]
pub struct Retry<S> {
    inner: S,
    service: Arc<str>,
    config: RetryConfig,
    budget: Arc<RetryBudget>,
    per_try: Duration,
    total: Duration,
}

impl<S> Retry<S> {
    pub fn new(inner: S, service: &str, config: RetryConfig, per_try: Duration, total: Duration) -> Self {
        let budget = Arc::new(RetryBudget::new(&config));
        Self { inner, service: service.into(), config, budget, per_try, total }
    }
}

impl<S> Service<Req> for Retry<S>
where
    S: Service<Req, Response = Resp, Error = CallError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Resp;
    type Error = CallError;
    type Future = BoxFuture<'static, Result<Resp, CallError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.run(request).await })
    }
}

impl<S> Retry<S>
where
    S: Service<Req, Response = Resp, Error = CallError> + Clone + Send + 'static,
    S::Future: Send,
{
    async fn run(self, request: Req) -> Result<Resp, CallError> {
        let deadline = deadline::effective(self.total);
        let safe = retry::is_safe_to_repeat(request.method(), request.headers());
        self.budget.deposit();
        let (parts, body) = request.into_parts();
        let mut attempt = 1;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(CallError::DeadlineExceeded { service: self.service.to_string() });
            }
            let mut this_try = http::Request::from_parts(parts.clone(), body.clone());
            this_try.extensions_mut().insert(AttemptDeadline((now + self.per_try).min(deadline)));
            let result = self.inner.clone().oneshot(this_try).await;

            let wait = match &result {
                Ok(response) if safe && retry::is_retryable_status(response.status()) => Some(
                    retry::retry_after(response.headers(), SystemTime::now())
                        .unwrap_or_else(|| retry::backoff(&self.config, attempt)),
                ),
                // Refused before anything was sent: repeating cannot hurt.
                Err(CallError::Connect { .. }) => Some(retry::backoff(&self.config, attempt)),
                Err(CallError::Timeout { .. } | CallError::Transport { .. }) if safe => {
                    Some(retry::backoff(&self.config, attempt))
                }
                _ => None,
            };
            let Some(wait) = wait else { return result };
            if attempt >= self.config.max_attempts || Instant::now() + wait >= deadline || !self.budget.try_withdraw() {
                return result;
            }
            tracing::debug!(service = %self.service, attempt, wait_ms = wait.as_millis() as u64, "retrying");
            metrics::counter!("client_retries_total", "service" => self.service.to_string()).increment(1);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}
