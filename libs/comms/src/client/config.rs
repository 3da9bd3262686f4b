//! Per-upstream settings for the REST client and the gRPC channel.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::ServiceIdentity;
use crate::discovery::{BalanceStrategy, EjectionConfig};
use crate::resilience::{BreakerConfig, RetryConfig};

/// How calls to one upstream service behave. Defaults suit a call between
/// services in one data centre: most answer in milliseconds, so 2 s per
/// attempt is already a failure, and 5 s in all keeps a user's request
/// within what they will wait for.
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    /// The service name: for discovery, logs, metrics and the breaker.
    pub service: String,
    pub per_try_timeout: Duration,
    pub total_timeout: Duration,
    pub retry: RetryConfig,
    pub breaker: BreakerConfig,
    /// Calls in flight at once (default 100).
    pub max_concurrent: usize,
    /// How long a call may wait for a bulkhead permit (default 0).
    pub max_wait: Duration,
    pub strategy: BalanceStrategy,
    pub ejection: EjectionConfig,
    /// Whose token every call carries (`Context::identity`); `None` only
    /// for a peer that checks no caller.
    pub identity: Option<Arc<ServiceIdentity>>,
}

impl UpstreamConfig {
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            per_try_timeout: Duration::from_secs(2),
            total_timeout: Duration::from_secs(5),
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
            max_concurrent: 100,
            max_wait: Duration::ZERO,
            strategy: BalanceStrategy::PowerOfTwoChoices,
            ejection: EjectionConfig::default(),
            identity: None,
        }
    }

    /// Every call carries a token from `identity`, for this upstream only.
    pub fn identity(mut self, identity: Arc<ServiceIdentity>) -> Self {
        self.identity = Some(identity);
        self
    }
}

/// Sets `Authorization` to `identity`'s token for `upstream` (a service's
/// HTTP or gRPC registration: the token names the service either way).
pub(super) fn authorize(headers: &mut http::HeaderMap, identity: Option<&ServiceIdentity>, upstream: &str) {
    let audience = crate::discovery::service_of(upstream);
    if let Some(identity) = identity
        && let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {}", identity.token_for(audience)))
    {
        headers.insert(http::header::AUTHORIZATION, value);
    }
}
