//! The communication library: everything that crosses a process boundary.
//!
//! Services use this crate for telemetry, errors, health, metrics, servers,
//! clients, discovery, messaging and shutdown, so each of those is written,
//! tested and explained once. Transport crates (tonic's server set-up, OTLP,
//! lapin, rdkafka, Consul's HTTP API) stay behind these modules.

pub mod auth;
pub mod cli;
pub mod client;
pub mod db;
pub mod discovery;
pub mod error;
pub mod grpc;
pub mod health;
pub mod http;
pub mod instance;
pub mod long_streams;
pub mod messaging;
pub mod prometheus;
pub mod resilience;
pub mod secret;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod validate;

#[doc(hidden)]
pub use anyhow as __anyhow; // for `service_error!`
pub use error::{ErrorKind, FieldViolation};
pub use shutdown::Shutdown;
