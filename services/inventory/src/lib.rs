//! The inventory service: products, their stock, and the reservations that
//! orders make against it.
//!
//! It owns the `inventory` database. REST (behind the gateway) serves the
//! catalogue, with admin-only writes; gRPC serves the other services
//! (`GetProducts`) and stock dashboards (`WatchStock`). It takes part in
//! the order saga by consuming `order.placed` / `order.cancelled` and
//! emitting `inventory.reserved` / `.rejected` / `.released` (and
//! `.low_stock`) through its outbox.

pub mod access;
pub mod config;
pub mod seed;
pub mod startup;
pub mod state;

mod catalog;
mod consumers;
mod db;
mod domain;
mod error;
mod grpc;
mod http;
mod reservations;
mod stock_feed;

use comms::settings::{Database, ServiceDefaults};

/// Who this service is; its settings' defaults come from here.
pub const SERVICE: ServiceDefaults = ServiceDefaults {
    name: "inventory",
    prefix: "INVENTORY_",
    http_port: 8083,
    grpc_port: Some(9083),
    metrics_port: 7083,
    database: Some(Database { name: "inventory", migrations: &startup::MIGRATOR }),
    publishes: true,
    consumes: true,
    access: &access::ACCESS,
};
