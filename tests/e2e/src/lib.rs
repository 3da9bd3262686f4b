//! A whole switchyard system for a test: the six services as separate
//! processes from their built binaries, configured with the same variables
//! docker-compose.yml sets, against real PostgreSQL and the broker, with the
//! test kit's Consul double for discovery and its OTLP receiver for traces.

mod client;
mod system;

pub use client::{Api, items};
pub use system::{ADMIN_EMAIL, Options, SERVICES, System, admin_password, leak};
