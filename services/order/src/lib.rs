//! The order service: places orders, and follows each one through the saga.
//!
//! It owns the `orders` database. Placing an order checks the customer with
//! the user service and prices the lines with the inventory service (gRPC,
//! through the comms client), then writes the order and its `order.placed`
//! event in one transaction. Inventory's answer (`inventory.reserved` or
//! `inventory.rejected`) confirms or rejects it; the customer may cancel it;
//! with no answer by the saga's deadline it expires (`expiry`).
//! An `Idempotency-Key` makes placing safe to retry.
//!
//! Choices a client sees (each explained where it is made):
//! - the key is required: 1 to 255 visible ASCII characters, else 400; it
//!   belongs to the customer; only a successful placement is recorded, so a
//!   failed one can be retried with the same key (`idempotency`, `placing`);
//! - a replay answers the first response byte for byte, with
//!   `Idempotency-Replayed: true`; the same key with another body is 422;
//! - a sku sent twice in one order is refused (422), not merged;
//! - another customer's order is 404, as if it did not exist (`orders`);
//! - user or inventory down → 503 (with `Retry-After` while our breaker is
//!   open), slower than `ORDER_UPSTREAM_TIMEOUT_MS` → 504, a nonsensical
//!   answer → 502; an account that no longer exists → 403 (`upstream`).

pub mod access;
pub mod config;
pub mod consumers;
pub mod expiry;
pub mod startup;
pub mod state;

mod db;
mod domain;
mod error;
mod grpc;
mod http;
mod idempotency;
mod orders;
mod placing;
mod upstream;

use comms::settings::ServiceDefaults;

/// Who this service is; its settings' defaults come from here.
pub const SERVICE: ServiceDefaults = ServiceDefaults::new("order", "ORDER_", &access::ACCESS)
    .ports(8082, Some(9082), 7082)
    .database("orders", &startup::MIGRATOR)
    .messaging(true, true);
