//! The order service's integration tests: one binary (link time is the cost
//! on small machines), one module per area, each test against real
//! PostgreSQL and RabbitMQ with a database and a broker namespace of its
//! own, and doubles of the user and inventory services.

mod access;
mod cancel;
mod discovery;
mod doubles;
mod failures;
mod grpc;
mod helpers;
mod idempotency;
mod reading;
mod saga;
mod tracing;
mod validation;
