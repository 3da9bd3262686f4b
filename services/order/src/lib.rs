//! The order service: places orders, and follows each one through the saga.
//!
//! It owns the `orders` database. Placing an order checks the customer with
//! the user service and prices the lines with the inventory service (gRPC,
//! through the comms client), then writes the order and its `order.placed`
//! event in one transaction. Inventory's answer (`inventory.reserved` or
//! `inventory.rejected`) confirms or rejects it; the customer may cancel it.
//! An `Idempotency-Key` makes placing safe to retry.

pub mod config;
pub mod consumers;
pub mod db;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod http;
pub mod idempotency;
pub mod orders;
pub mod placing;
pub mod startup;
pub mod upstream;
