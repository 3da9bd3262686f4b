//! Resilience for calls between services, as tower layers and the small
//! state machines behind them. Each module's docs give its semantics and
//! the defaults it uses, with the reason for each number.
//!
//! The REST client ([`crate::client::http`]) composes them in this order,
//! outermost first: total deadline → retry (with budget) → circuit breaker
//! → bulkhead → load balancer (with passive ejection) → per-attempt timeout
//! → transport. The gRPC channel ([`crate::client::grpc`]) is the same
//! without the retry layer and with one deadline for the whole call (sent
//! as `grpc-timeout`); reads opt into retries with `retry_idempotent`.
//! Retries sit outside the breaker so an open breaker stops them at once;
//! the bulkhead sits inside so that waiting for a retry holds no permit.

pub mod breaker;
pub mod bulkhead;
pub mod deadline;
pub mod retry;

pub use breaker::{BreakerConfig, BreakerOpen, BreakerState, CircuitBreaker, Permit};
pub use bulkhead::{Bulkhead, BulkheadFull};
pub use retry::{RetryBudget, RetryConfig};
