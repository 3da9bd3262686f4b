//! The notification service's integration tests: one binary (link time is
//! the cost on small machines), one module per area, each test against
//! real PostgreSQL and RabbitMQ with a database and a broker namespace of
//! its own, and a double of the user service.

mod access;
mod delivery;
mod events;
mod helpers;
mod rest;
mod stream;
