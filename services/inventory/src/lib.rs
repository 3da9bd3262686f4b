//! The inventory service: products, their stock, and the reservations that
//! orders make against it.
//!
//! It owns the `inventory` database. REST (behind the gateway) serves the
//! catalogue, with admin-only writes; gRPC serves the other services
//! (`GetProducts`) and stock dashboards (`WatchStock`). It takes part in
//! the order saga by consuming `order.placed` / `order.cancelled` and
//! emitting `inventory.reserved` / `.rejected` / `.released` (and
//! `.low_stock`) through its outbox.

pub mod catalog;
pub mod config;
pub mod consumers;
pub mod db;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod http;
pub mod reservations;
pub mod seed;
pub mod startup;
pub mod stock_feed;
