//! The service's integration tests: one binary (link time is the cost on
//! small machines), one module per area, each test against real PostgreSQL
//! with a database of its own and, when the service uses the broker,
//! RabbitMQ with a namespace of its own.

mod access;
mod consumer; // new-service: consumes
mod grpc; // new-service: grpc
mod helpers;
mod items;
mod outbox; // new-service: publishes
