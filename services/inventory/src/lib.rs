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

use comms::settings::ServiceDefaults;

/// Who this service is; its settings' defaults come from here.
pub const SERVICE: ServiceDefaults = ServiceDefaults::new("inventory", "INVENTORY_", &access::ACCESS)
    .ports(8083, Some(9083), 7083)
    .database("inventory", &startup::MIGRATOR)
    .messaging(true, true);
