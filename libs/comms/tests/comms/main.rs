//! The communication library's integration tests: one binary, one module
//! per pattern. In-memory tests of time run on tokio's paused clock; tests
//! over real sockets assert counts and order with generous margins.

mod balancing;
mod breaker;
mod broker_users;
mod bulkhead;
mod connections;
mod deadline;
mod discovery;
mod dns_discovery;
mod grpc_metrics;
mod kafka;
mod outbox;
mod rabbitmq;
mod retry;
mod server;
mod service;
mod support;
