//! The inventory service's integration tests: one binary (link time is the
//! cost on small machines), one module per area, each test against real
//! PostgreSQL (a database of its own) and RabbitMQ (a namespace of its own).

mod access;
mod concurrency;
mod connections;
mod grpc;
mod helpers;
mod probe;
mod reservations;
mod rest;
mod watch;
