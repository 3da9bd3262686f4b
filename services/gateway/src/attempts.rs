//! The innermost layer of an upstream's stack: picks an instance, sends,
//! and sends again while that is safe and the retry budget allows.
//!
//! Bodies stream, so a request can be sent again only if it has nothing to
//! stream: a GET, HEAD or OPTIONS whose body is known to be empty. Such a
//! request is tried again, on a fresh pick (usually another instance), when
//! the connection failed or the upstream answered 502, 503 or 504; never
//! after the route's timeout, and never beyond the upstream's retry budget
//! (the library's `RetryBudget`: a floor per second plus a share of the
//! requests). Anything else, a POST above all, is tried once.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use comms::discovery::Balancer;
use comms::resilience::{RetryBudget, RetryConfig, retry};
use futures::future::BoxFuture;
use http::{Method, Request, Response};
use http_body::Body as _;
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::client::{HttpClient, ProxyError};

/// One call to one upstream service, until `deadline`.
#[derive(Clone)]
pub struct Attempts {
    pub client: HttpClient,
    pub balancer: Arc<Balancer>,
    pub budget: Arc<RetryBudget>,
    pub retry: RetryConfig,
    pub deadline: Instant,
}

impl tower::Service<Request<Body>> for Attempts {
    type Response = Response<Incoming>;
    type Error = ProxyError;
    type Future = BoxFuture<'static, Result<Response<Incoming>, ProxyError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.run(request).await })
    }
}

impl Attempts {
    async fn run(self, request: Request<Body>) -> Result<Response<Incoming>, ProxyError> {
        let (parts, body) = request.into_parts();
        let repeatable =
            matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) && body.size_hint().exact() == Some(0);
        self.budget.deposit();
        let mut body = Some(body);
        let mut attempt = 1;
        loop {
            let picked = self.balancer.pick()?;
            let mut outgoing = Request::from_parts(parts.clone(), body.take().unwrap_or_else(Body::empty));
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            *outgoing.uri_mut() =
                format!("http://{}{path}", picked.instance.address).parse().map_err(|_| ProxyError::BadAddress)?;
            let left = self.deadline.saturating_duration_since(Instant::now());
            let result = match tokio::time::timeout(left, self.client.request(outgoing)).await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(error)) if error.is_connect() => Err(ProxyError::Connect),
                Ok(Err(_)) => Err(ProxyError::Closed),
                Err(_) => Err(ProxyError::Timeout),
            };
            picked.report(result.as_ref().map_or(true, |r| r.status().is_server_error()));

            let worth_another = match &result {
                Err(ProxyError::Connect) => true,
                Ok(response) => matches!(response.status().as_u16(), 502..=504),
                Err(_) => false,
            };
            if !(repeatable && worth_another && attempt < self.retry.max_attempts) {
                return result;
            }
            let wait = retry::backoff(&self.retry, attempt);
            if Instant::now() + wait >= self.deadline || !self.budget.try_withdraw() {
                return result;
            }
            tracing::debug!(instance = %picked.instance.id, attempt, "trying the upstream again");
            metrics::counter!("gateway_retries_total", "service" => self.balancer.service().to_owned()).increment(1);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}
