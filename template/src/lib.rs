//! The template service: the smallest complete switchyard service, the crate
//! `just new-service NAME` copies, renames and trims (docs/adding-a-service.md).
//! A line that only one option needs (`--grpc`, `--publishes`, `--consumes`)
//! ends with a `new-service:` marker naming it; the generator drops the line
//! when the option is off. The crate is built, linted and tested with the
//! workspace but never run: no service list, compose file or route names it.
//!
//! It owns the `template` database and one resource, items: a signed-in user
//! creates one and reads it back, and only its owner or an admin sees it. The
//! use cases are in [`items`], the one error type in [`error`].
//!
//! - REST: `POST /template/items`, `GET /template/items/{id}` ([`http`]);
//! - gRPC: `GetItem`, for other services ([`grpc`]); // new-service: grpc
//! - an `ItemCreated` event per item, through its outbox ([`items`]); // new-service: publishes
//! - a consumer recording each event it receives, once ([`consumer`]). // new-service: consumes

pub mod access;
pub mod config;
pub mod startup;
pub mod state;

mod consumer; // new-service: consumes
mod db;
mod domain;
mod error;
mod grpc; // new-service: grpc
mod http;
mod items;

use comms::settings::ServiceDefaults;

/// Who this service is; its settings' defaults come from here.
pub const SERVICE: ServiceDefaults = ServiceDefaults::new("template", "TEMPLATE_", &access::ACCESS)
    .ports(8089, Some(9089), 7089)
    .database("template", &startup::MIGRATOR)
    .messaging(true, true);
