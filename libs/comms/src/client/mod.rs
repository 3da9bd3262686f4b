//! Ready-made clients for calls between services: a REST client and a gRPC
//! channel, both built from the same resilience layers and configured per
//! upstream service.

mod breaker_layer;
mod config;
mod error;
pub mod grpc;
pub mod http;
mod retry_layer;

pub use breaker_layer::{BreakerLayer, BreakerService};
pub use config::UpstreamConfig;
pub use error::CallError;
pub use retry_layer::AttemptDeadline;

/// How long a client keeps an idle HTTP/1 connection for reuse: well below
/// every server's idle timeout (`CONNECTIONS__IDLE_TIMEOUT_SECS`, 30 s), so
/// a client never sends a request on a connection the server is closing,
/// which a POST could not be retried after. (hyper's and reqwest's default
/// is 90 s.)
pub const POOL_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

const _: () = assert!(POOL_IDLE_TIMEOUT.as_secs() < crate::http::ConnectionLimits::DEFAULT.idle_timeout_secs);

/// The breaker's view of a result: nothing learned when our own side
/// refused the call, else what the protocol's classifier says.
pub(crate) fn verdict<R>(result: &Result<R, CallError>, is_failure: fn(&Result<R, CallError>) -> bool) -> Option<bool> {
    match result {
        Err(error) if error.refused_locally() => None,
        other => Some(is_failure(other)),
    }
}
