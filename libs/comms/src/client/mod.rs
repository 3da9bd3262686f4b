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
