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

/// The breaker's view of a result: nothing learned when our own side
/// refused the call, else what the protocol's classifier says.
pub(crate) fn verdict<R>(result: &Result<R, CallError>, is_failure: fn(&Result<R, CallError>) -> bool) -> Option<bool> {
    match result {
        Err(error) if error.refused_locally() => None,
        other => Some(is_failure(other)),
    }
}
