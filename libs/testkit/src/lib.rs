//! The test kit: what every service's integration tests need to talk to
//! real PostgreSQL and RabbitMQ, and to doubles of what cannot run here.
//!
//! - [`access`]: every operation of a service against its access table;
//! - [`db`]: a fresh, migrated database per test;
//! - [`process`]: a service run from its binary as a separate process;
//! - [`served`]: a service's application serving inside the test process;
//! - [`otlp`]: an OTLP receiver recording spans, and the process's telemetry;
//! - [`fault_proxy`]: a TCP proxy that adds latency, refuses, hangs or cuts;
//! - [`grpc`]: reflection and health, as stock gRPC tooling asks them;
//! - [`identity`]: callers as tests make them: user and service tokens;
//! - [`keys`]: signing keys made at run time, never read from the repository;
//! - [`consul`]: a Consul HTTP API double that runs real health checks;
//! - [`dns`]: a DNS server double answering as CoreDNS for headless Services;
//! - [`broker`]: a broker namespace of the test's own;
//! - [`probe`]: a subscriber that records events, and publishes like a peer;
//! - [`smtp`]: an SMTP server that records what it is sent, or refuses it.

pub mod access;
pub mod broker;
pub mod broker_conformance;
pub mod browser;
pub mod consul;
pub mod db;
pub mod dns;
pub mod fault_proxy;
pub mod grpc;
pub mod h2c;
pub mod identity;
pub mod keys;
pub mod otlp;
pub mod probe;
pub mod problem;
pub mod process;
pub mod served;
pub mod smtp;
pub mod sockets;

pub use broker::{BrokerUsers, broker_env, broker_settings, rabbitmqctl, service_settings};
pub use consul::ConsulDouble;
pub use db::TestDatabase;
pub use dns::DnsDouble;
pub use fault_proxy::FaultProxy;
pub use identity::{As, Identified, auth_env, service_token, user_token};
pub use otlp::otlp;
pub use probe::EventProbe;
pub use problem::assert_problem;
pub use process::ServiceProcess;
pub use served::{Served, json_of};
pub use smtp::SmtpSink;
