//! The analytics service's integration tests: one binary (link time is the
//! cost on small machines), one module per area, each test against real
//! PostgreSQL with a database of its own and RabbitMQ with a namespace of
//! its own. Events are published onto that namespace as their producers
//! would publish them.

mod access;
mod batch;
mod counting;
mod helpers;
mod ordering;
mod rest;
mod streaming;
