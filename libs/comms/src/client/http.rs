//! The REST client for calls between services.
//!
//! One [`HttpClient`] per upstream service, built from an
//! [`UpstreamConfig`] and a watched instance set (or a fixed base URL). Each
//! call goes through the standard stack, outermost first:
//!
//! 1. retry, owning the total deadline (see `resilience::retry`);
//! 2. circuit breaker, counting transport failures and 5xx;
//! 3. bulkhead;
//! 4. load balancer with passive ejection, per-attempt timeout, trace
//!    context injection, and the HTTP transport (reqwest).

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderName, HeaderValue, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

use super::breaker_layer::BreakerLayer;
use super::retry_layer::{AttemptDeadline, Req, Resp, Retry};
use super::{CallError, UpstreamConfig, verdict};
use crate::discovery::{Balancer, Instance};
use crate::resilience::{Bulkhead, CircuitBreaker};

#[derive(Clone)]
pub struct HttpClient {
    service: Arc<str>,
    breaker: Arc<CircuitBreaker>,
    stack: BoxCloneSyncService<Req, Resp, CallError>,
}

impl HttpClient {
    /// A client over a watched set of instances (from a `ServiceRegistry`).
    pub fn new(config: UpstreamConfig, instances: watch::Receiver<Vec<Instance>>) -> Self {
        let balancer = Arc::new(Balancer::new(config.service.clone(), instances, config.strategy, config.ejection));
        let breaker = CircuitBreaker::new(config.service.clone(), config.breaker.clone());
        let http =
            reqwest::Client::builder().pool_idle_timeout(super::POOL_IDLE_TIMEOUT).build().expect("reqwest client");
        let transport = Transport { http, balancer, config: config.clone() };
        let inner = ServiceBuilder::new()
            .layer(BreakerLayer::new(breaker.clone(), |r| verdict(r, is_failure)))
            .layer(Bulkhead::new(config.max_concurrent, config.max_wait))
            .service(transport);
        let stack =
            Retry::new(inner, &config.service, config.retry.clone(), config.per_try_timeout, config.total_timeout);
        Self { service: config.service.into(), breaker, stack: BoxCloneSyncService::new(stack) }
    }

    /// A client for one fixed address, e.g. `http://127.0.0.1:8081`.
    pub fn for_base_url(config: UpstreamConfig, base_url: &str) -> Self {
        let address = base_url.trim_start_matches("http://").trim_end_matches('/');
        let instances = crate::discovery::fixed(&config.service, address);
        Self::new(config, instances)
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }

    pub fn request(&self, method: Method, path_and_query: &str) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            request: http::Request::builder().method(method).uri(path_and_query),
            body: Bytes::new(),
        }
    }

    pub fn get(&self, path_and_query: &str) -> RequestBuilder {
        self.request(Method::GET, path_and_query)
    }

    pub fn post(&self, path_and_query: &str) -> RequestBuilder {
        self.request(Method::POST, path_and_query)
    }

    /// Sends a prepared request whose URI is a path (and query).
    pub async fn send(&self, request: Req) -> Result<Resp, CallError> {
        self.stack.clone().oneshot(request).await
    }
}

/// Builds one request; `send` runs it through the client's stack.
pub struct RequestBuilder {
    client: HttpClient,
    request: http::request::Builder,
    body: Bytes,
}

impl RequestBuilder {
    pub fn header(mut self, name: impl Into<HeaderName>, value: HeaderValue) -> Self {
        self.request = self.request.header(name.into(), value);
        self
    }

    /// Marks a non-idempotent request as safe to repeat (the upstream
    /// deduplicates by this key).
    pub fn idempotency_key(self, key: &str) -> Self {
        match HeaderValue::from_str(key) {
            Ok(value) => self.header(HeaderName::from_static(crate::resilience::retry::IDEMPOTENCY_KEY), value),
            Err(_) => self,
        }
    }

    pub fn json<T: Serialize>(mut self, body: &T) -> Self {
        self.body = serde_json::to_vec(body).map(Bytes::from).unwrap_or_default();
        self.request = self.request.header(http::header::CONTENT_TYPE, "application/json");
        self
    }

    pub async fn send(self) -> Result<Resp, CallError> {
        let request = self.request.body(self.body).map_err(|e| CallError::InvalidRequest(e.to_string()))?;
        self.client.send(request).await
    }

    /// Sends, then decodes a 2xx JSON body; other statuses come back as the
    /// response so the caller can map them.
    pub async fn send_json<T: DeserializeOwned>(self) -> Result<Result<T, Resp>, CallError> {
        let service = self.client.service.to_string();
        let response = self.send().await?;
        if !response.status().is_success() {
            return Ok(Err(response));
        }
        serde_json::from_slice(response.body())
            .map(Ok)
            .map_err(|e| CallError::Transport { service, reason: format!("undecodable body: {e}") })
    }
}

/// Transport failures and server errors count against the upstream; a
/// rejection by our own bulkhead or an empty instance set does not.
fn is_failure(result: &Result<Resp, CallError>) -> bool {
    match result {
        Ok(response) => response.status().is_server_error(),
        Err(CallError::Connect { .. } | CallError::Timeout { .. } | CallError::Transport { .. }) => true,
        Err(_) => false,
    }
}

/// Picks an instance, sends one attempt to it, and tells the balancer how
/// it went.
#[derive(Clone)]
struct Transport {
    http: reqwest::Client,
    balancer: Arc<Balancer>,
    config: UpstreamConfig,
}

impl Service<Req> for Transport {
    type Response = Resp;
    type Error = CallError;
    type Future = BoxFuture<'static, Result<Resp, CallError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.attempt(request).await })
    }
}

impl Transport {
    async fn attempt(self, request: Req) -> Result<Resp, CallError> {
        let service = self.config.service.clone();
        let picked = self.balancer.pick()?;
        let deadline = request
            .extensions()
            .get::<AttemptDeadline>()
            .map_or_else(|| tokio::time::Instant::now() + self.config.per_try_timeout, |d| d.0);
        let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());

        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = format!("http://{}{path}", picked.instance.address)
            .parse()
            .map_err(|e: http::uri::InvalidUri| CallError::InvalidRequest(e.to_string()))?;
        crate::telemetry::inject_http(&mut parts.headers);
        super::config::authorize(&mut parts.headers, self.config.identity.as_deref(), &service);
        let outgoing = reqwest::Request::try_from(http::Request::from_parts(parts, body))
            .map_err(|e| CallError::InvalidRequest(e.to_string()))?;

        let result = match tokio::time::timeout(timeout, self.exchange(outgoing)).await {
            Ok(result) => result.map_err(|e| transport_error(&service, &e)),
            Err(_) => Err(CallError::Timeout { service, timeout }),
        };
        picked.report(is_failure(&result));
        result
    }

    async fn exchange(&self, request: reqwest::Request) -> Result<Resp, reqwest::Error> {
        let response = self.http.execute(request).await?;
        let mut builder = http::Response::builder().status(response.status()).version(response.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = response.headers().clone();
        }
        let body = response.bytes().await?;
        Ok(builder.body(body).expect("status and headers came from a valid response"))
    }
}

fn transport_error(service: &str, error: &reqwest::Error) -> CallError {
    let reason = error.to_string();
    if error.is_connect() {
        CallError::Connect { service: service.to_owned(), reason }
    } else {
        CallError::Transport { service: service.to_owned(), reason }
    }
}

// The bulkhead layer is generic over any service; make sure ours fits.
const _: fn() = || {
    fn assert_layer<L: Layer<Transport>>() {}
    assert_layer::<Bulkhead>();
};
