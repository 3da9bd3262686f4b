//! Forwarding one request to an upstream service, through the library's
//! resilience layers, streaming both ways.
//!
//! Each call goes through one stack per upstream, outermost first: the
//! circuit breaker (`comms::client::BreakerLayer`), a bulkhead
//! (`comms::resilience::Bulkhead`), then [`Attempts`], which picks an
//! instance and sends, again when that is safe and the retry budget allows.
//!
//! Bodies are never buffered: hyper pulls from the client only as fast as
//! the upstream takes, and the other way round, so memory per request stays
//! at a few socket buffers whatever the body size.
//!
//! | upstream condition | answer |
//! |---|---|
//! | breaker open | 503, `Retry-After` = the rest of the break |
//! | bulkhead full (too many calls to it in flight) | 503 at once, `Retry-After: 1` |
//! | no instance in discovery | 503 |
//! | no connection (refused, or no answer within 1 s) | 502, after the retries a GET may have |
//! | no response headers within the route's timeout | 504 |
//! | anything it answers | passed through as it is (a GET's 502–504 first retried) |
//!
//! The breaker counts connect errors, timeouts, closed connections and 5xx
//! answers, but not a 503 with `Retry-After` ([`verdict`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use comms::client::BreakerLayer;
use comms::discovery::{BalanceStrategy, Balancer, EjectionConfig, ServiceRegistry};
use comms::error::ErrorKind;
use comms::http::Problem;
use comms::resilience::{BreakerConfig, Bulkhead, CircuitBreaker, RetryBudget, RetryConfig};
use http::Request;
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};

use crate::attempts::Attempts;
use crate::client::{HttpClient, ProxyError};
use crate::routes::Route;

/// How hard the gateway leans on each upstream: one breaker, one bulkhead
/// and one retry budget per upstream service, configured alike.
#[derive(Clone, Debug)]
pub struct Resilience {
    pub breaker: BreakerConfig,
    /// Calls to one upstream in flight at once; one more is refused at once.
    pub max_concurrent: usize,
    pub retry: RetryConfig,
}

/// One upstream service: its instances and its resilience state.
pub struct Upstream {
    pub balancer: Arc<Balancer>,
    breaker: Arc<CircuitBreaker>,
    bulkhead: Bulkhead,
    budget: Arc<RetryBudget>,
    retry: RetryConfig,
}

/// One [`Upstream`] per service, each watched once here: picking an
/// instance reads the watch, so no registry call is ever made on the
/// request path.
pub fn upstreams(
    services: Vec<String>,
    registry: &dyn ServiceRegistry,
    resilience: &Resilience,
) -> HashMap<String, Upstream> {
    tracing::info!(
        max_concurrent = resilience.max_concurrent,
        retry_attempts = resilience.retry.max_attempts,
        retry_budget_ratio = resilience.retry.budget_ratio,
        retry_budget_min_per_sec = resilience.retry.budget_min_per_sec,
        breaker_failure_ratio = resilience.breaker.failure_ratio,
        breaker_min_throughput = resilience.breaker.min_throughput,
        breaker_break_secs = resilience.breaker.break_duration.as_secs(),
        "per upstream: bulkhead, retry budget and breaker"
    );
    services
        .into_iter()
        .map(|service| {
            let watch = registry.watch(&service);
            let balancer =
                Balancer::new(service.clone(), watch, BalanceStrategy::PowerOfTwoChoices, EjectionConfig::default());
            (service, Upstream::new(balancer, resilience))
        })
        .collect()
}

impl Upstream {
    pub fn new(balancer: Balancer, resilience: &Resilience) -> Self {
        let breaker = CircuitBreaker::new(format!("gateway->{}", balancer.service()), resilience.breaker.clone());
        Self {
            balancer: Arc::new(balancer),
            breaker,
            bulkhead: Bulkhead::new(resilience.max_concurrent, Duration::ZERO),
            budget: Arc::new(RetryBudget::new(&resilience.retry)),
            retry: resilience.retry.clone(),
        }
    }
}

/// What the breaker learns from a call: a 5xx or a broken exchange counts
/// against the upstream; a call refused on our side teaches nothing.
///
/// A 503 with `Retry-After` does not count: the upstream answered, on
/// purpose, that this request must wait (it sheds load, or something it
/// depends on is down). Counting it would let one route's dependency close
/// every route of that service.
fn verdict<B>(result: &Result<http::Response<B>, ProxyError>) -> Option<bool> {
    match result {
        Ok(response) => {
            let status = response.status();
            let deliberate = status == http::StatusCode::SERVICE_UNAVAILABLE
                && response.headers().contains_key(http::header::RETRY_AFTER);
            Some(status.is_server_error() && !deliberate)
        }
        Err(ProxyError::Connect | ProxyError::Closed | ProxyError::Timeout) => Some(true),
        Err(_) => None,
    }
}

/// Sends `request` (path already rewritten, headers prepared) upstream.
pub async fn forward(client: &HttpClient, upstream: &Upstream, route: &Route, request: Request<Body>) -> Response {
    let attempts = Attempts {
        client: client.clone(),
        balancer: upstream.balancer.clone(),
        budget: upstream.budget.clone(),
        retry: upstream.retry.clone(),
        deadline: Instant::now() + route.timeout(),
    };
    let stack = ServiceBuilder::new()
        .layer(BreakerLayer::new(upstream.breaker.clone(), verdict))
        .layer(upstream.bulkhead.clone())
        .service(attempts);
    match stack.oneshot(request).await {
        Ok(response) => {
            let (mut head, incoming) = response.into_parts();
            crate::headers::for_client(&mut head.headers);
            Response::from_parts(head, Body::new(incoming))
        }
        Err(error) => answer(&error, route),
    }
}

/// The gateway's own answer when the upstream's cannot be passed on.
fn answer(error: &ProxyError, route: &Route) -> Response {
    let service = &route.service;
    match error {
        ProxyError::Open(open) => Problem::new(ErrorKind::Unavailable)
            .detail(format!("{service} is failing; the gateway stopped calling it for now"))
            .retry_after(open.remaining),
        ProxyError::Full(_) => Problem::new(ErrorKind::Unavailable)
            .detail(format!("{service} has as many requests from the gateway in flight as it may"))
            .retry_after(Duration::from_secs(1)),
        ProxyError::NoInstance(none) => Problem::new(ErrorKind::Unavailable).detail(none.to_string()),
        ProxyError::Connect => Problem::new(ErrorKind::BadGateway).detail(format!("could not connect to {service}")),
        ProxyError::Closed => Problem::new(ErrorKind::BadGateway).detail(format!("{service} closed the connection")),
        ProxyError::Timeout => Problem::new(ErrorKind::Timeout)
            .detail(format!("{service} did not answer within {} ms", route.timeout().as_millis())),
        ProxyError::BadAddress => Problem::internal(error),
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, retry_after: bool) -> Result<http::Response<()>, ProxyError> {
        let mut response = http::Response::builder().status(status);
        if retry_after {
            response = response.header(http::header::RETRY_AFTER, "1");
        }
        Ok(response.body(()).unwrap())
    }

    #[test]
    fn only_a_deliberate_503_among_server_errors_is_no_breaker_failure() {
        assert_eq!(verdict(&answered(503, true)), Some(false), "load shed, or a dependency down");
        for status in [500, 502, 503, 504] {
            assert_eq!(verdict(&answered(status, false)), Some(true), "{status} without Retry-After");
        }
        assert_eq!(verdict(&answered(502, true)), Some(true), "only a 503 says 'wait' with Retry-After");
        assert_eq!(verdict(&answered(200, false)), Some(false));
        assert_eq!(verdict(&answered(429, true)), Some(false), "a client's error is not the service's");
        for error in [ProxyError::Connect, ProxyError::Closed, ProxyError::Timeout] {
            assert_eq!(verdict::<()>(&Err(error)), Some(true));
        }
        assert_eq!(verdict::<()>(&Err(ProxyError::BadAddress)), None, "not the upstream's doing");
    }
}
