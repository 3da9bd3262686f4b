//! The user service's integration tests: one binary (link time is the cost
//! on small machines), one module per area, each test against real
//! PostgreSQL with a database of its own.

mod access;
mod events;
mod grpc;
mod helpers;
mod internal;
mod jwt;
mod observability;
mod problem_type;
mod rest;
mod shutdown;
mod streaming;
mod throttle;
