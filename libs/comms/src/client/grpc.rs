//! A gRPC channel for calls between services, made of the same layers as
//! the REST client: `UserServiceClient::new(GrpcChannel::new(config, instances))`.
//!
//! Outermost first:
//!
//! 1. deadline: the call gets the earlier of its configured total timeout,
//!    the current task's deadline and any timeout set on the request, and
//!    sends what is left as `grpc-timeout` so the server can give up too;
//! 2. circuit breaker, counting transport failures, UNAVAILABLE and
//!    DEADLINE_EXCEEDED;
//! 3. bulkhead;
//! 4. load balancer with passive ejection over one lazily connected tonic
//!    channel per instance, with trace context injected into the metadata.
//!
//! Retries are not a layer here: a gRPC request body is a stream that
//! cannot be replayed in general. Calls that are safe to repeat (reads) go
//! through [`retry_idempotent`], which retries UNAVAILABLE with the same
//! backoff as the REST client.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use http::HeaderValue;
use tokio::sync::watch;
use tokio::time::Instant;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};

use super::breaker_layer::BreakerLayer;
use super::{CallError, UpstreamConfig};
use crate::auth::ServiceIdentity;
use crate::discovery::{Balancer, Instance};
use crate::resilience::retry::{self, RetryConfig};
use crate::resilience::{Bulkhead, CircuitBreaker, deadline};

type Req = http::Request<Body>;
type Resp = http::Response<Body>;

/// Set on a status when our own breaker refused the call: retrying at once
/// is pointless, and the value says when it is not.
pub const CIRCUIT_OPEN_METADATA: &str = "x-circuit-open-retry-after-ms";

#[derive(Clone)]
pub struct GrpcChannel {
    breaker: Arc<CircuitBreaker>,
    cache: Arc<Mutex<HashMap<String, Channel>>>,
    stack: BoxCloneSyncService<Req, Resp, CallError>,
    service: Arc<str>,
    total: Duration,
}

impl GrpcChannel {
    pub fn new(config: UpstreamConfig, instances: watch::Receiver<Vec<Instance>>) -> Self {
        let balancer = Arc::new(Balancer::new(config.service.clone(), instances, config.strategy, config.ejection));
        let breaker = CircuitBreaker::new(config.service.clone(), config.breaker.clone());
        let cache: Arc<Mutex<HashMap<String, Channel>>> = Arc::default();
        let channels = Channels {
            balancer,
            service: config.service.clone().into(),
            identity: config.identity.clone(),
            cache: cache.clone(),
            seen: Arc::default(),
        };
        let stack = ServiceBuilder::new()
            .layer(BreakerLayer::new(breaker.clone(), |r| super::verdict(r, is_failure)))
            .layer(Bulkhead::new(config.max_concurrent, config.max_wait))
            .service(channels);
        Self {
            breaker,
            cache,
            stack: BoxCloneSyncService::new(stack),
            service: config.service.into(),
            total: config.total_timeout,
        }
    }

    /// A channel to one fixed `host:port`.
    pub fn for_address(config: UpstreamConfig, address: &str) -> Self {
        let instances = crate::discovery::fixed(&config.service, address);
        Self::new(config, instances)
    }

    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }

    /// How many instances it holds a channel (and its connection) to.
    pub fn cached_channels(&self) -> usize {
        self.cache.lock().expect("channel cache lock").len()
    }
}

impl Service<Req> for GrpcChannel {
    type Response = Resp;
    type Error = tonic::Status;
    type Future = BoxFuture<'static, Result<Resp, tonic::Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), tonic::Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Req) -> Self::Future {
        let requested =
            request.headers().get("grpc-timeout").and_then(|v| v.to_str().ok()).and_then(deadline::parse_grpc_timeout);
        let budget = requested.map_or(self.total, |r| r.min(self.total));
        let deadline = deadline::effective(budget);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let value = HeaderValue::from_str(&deadline::grpc_timeout_value(remaining)).expect("ascii digits and a unit");
        request.headers_mut().insert("grpc-timeout", value);

        let stack = self.stack.clone();
        let service = self.service.to_string();
        Box::pin(async move {
            match tokio::time::timeout(remaining, stack.oneshot(request)).await {
                Ok(Ok(response)) => Ok(response),
                // The server enforces the same deadline and may reset the
                // stream a moment before our timer fires: at the deadline,
                // a broken call is a deadline exceeded, not an outage.
                Ok(Err(_)) if deadline.saturating_duration_since(Instant::now()) < Duration::from_millis(20) => {
                    Err(to_status(CallError::DeadlineExceeded { service }))
                }
                Ok(Err(error)) => Err(to_status(error)),
                Err(_) => Err(to_status(CallError::DeadlineExceeded { service })),
            }
        })
    }
}

fn to_status(error: CallError) -> tonic::Status {
    let retry_after = error.retry_after();
    let mut status = tonic::Status::from(error);
    if let Some(wait) = retry_after
        && let Ok(value) = wait.as_millis().to_string().parse()
    {
        status.metadata_mut().insert(CIRCUIT_OPEN_METADATA, value);
    }
    status
}

/// The gRPC status of a trailers-only response (how errors before any
/// message arrive), if this is one.
fn header_status(response: &Resp) -> Option<i32> {
    response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
}

fn is_failure(result: &Result<Resp, CallError>) -> bool {
    const UNAVAILABLE: i32 = 14;
    const DEADLINE_EXCEEDED: i32 = 4;
    match result {
        Ok(response) => matches!(header_status(response), Some(UNAVAILABLE | DEADLINE_EXCEEDED)),
        Err(CallError::Connect { .. } | CallError::Timeout { .. } | CallError::Transport { .. }) => true,
        Err(_) => false,
    }
}

/// One tonic channel per instance, created on first use and kept while the
/// instance is in discovery.
#[derive(Clone)]
struct Channels {
    balancer: Arc<Balancer>,
    service: Arc<str>,
    identity: Option<Arc<ServiceIdentity>>,
    cache: Arc<Mutex<HashMap<String, Channel>>>,
    /// The balancer's generation the cache was last pruned at.
    seen: Arc<AtomicU64>,
}

impl Channels {
    /// Drops the channels of addresses that left discovery, once per change
    /// of the instance set: with instances coming and going (replicas,
    /// restarts on new addresses), a cache that kept every address would
    /// grow without end and hold connections to what is gone. Calls in
    /// flight on a dropped channel finish on their own clone.
    fn evict_departed(&self) {
        let generation = self.balancer.generation();
        if self.seen.swap(generation, Ordering::AcqRel) == generation {
            return;
        }
        let live: HashSet<String> = self.balancer.instances().into_iter().map(|i| i.address).collect();
        self.cache.lock().expect("channel cache lock").retain(|address, _| live.contains(address));
    }

    fn channel_for(&self, address: &str) -> Result<Channel, CallError> {
        let mut cache = self.cache.lock().expect("channel cache lock");
        if let Some(channel) = cache.get(address) {
            return Ok(channel.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| CallError::InvalidRequest(e.to_string()))?
            // A refused or silent address should fail fast and let the
            // balancer try another instance.
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true);
        let channel = endpoint.connect_lazy();
        cache.insert(address.to_owned(), channel.clone());
        Ok(channel)
    }
}

impl Service<Req> for Channels {
    type Response = Resp;
    type Error = CallError;
    type Future = BoxFuture<'static, Result<Resp, CallError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Req) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let picked = this.balancer.pick()?;
            this.evict_departed();
            let channel = this.channel_for(&picked.instance.address)?;
            crate::telemetry::inject_http(request.headers_mut());
            super::config::authorize(request.headers_mut(), this.identity.as_deref(), &this.service);
            let result = channel.oneshot(request).await.map_err(|e| transport_error(&this.service, &e));
            picked.report(is_failure(&result));
            result
        })
    }
}

fn transport_error(service: &str, error: &tonic::transport::Error) -> CallError {
    // A refused connection means the request never left this process.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(io.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::TimedOut)
        {
            return CallError::Connect { service: service.to_owned(), reason: io.to_string() };
        }
        if e.to_string().contains("tcp connect error") {
            return CallError::Connect { service: service.to_owned(), reason: e.to_string() };
        }
        source = e.source();
    }
    CallError::Transport { service: service.to_owned(), reason: error.to_string() }
}

/// Runs a gRPC call that is safe to repeat (a read), retrying UNAVAILABLE
/// with exponential backoff and jitter, at most `config.max_attempts` times
/// in all and never past the current task's deadline.
pub async fn retry_idempotent<T, F, Fut>(config: &RetryConfig, mut call: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut attempt = 1;
    loop {
        let status = match call().await {
            Ok(value) => return Ok(value),
            Err(status) => status,
        };
        let circuit_open = status.metadata().contains_key(CIRCUIT_OPEN_METADATA);
        if status.code() != tonic::Code::Unavailable || circuit_open || attempt >= config.max_attempts {
            return Err(status);
        }
        let wait = retry::backoff(config, attempt);
        if deadline::current().is_some_and(|d| Instant::now() + wait >= d) {
            return Err(status);
        }
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}
