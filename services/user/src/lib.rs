//! The user service: accounts, credentials and login.
//!
//! It owns the `users` database, issues JWTs signed with an Ed25519 key and
//! publishes the verifying key as a JWKS. REST (behind the gateway) serves
//! people; gRPC serves the other services.

pub mod access;
pub mod config;
pub mod startup;
pub mod state;

mod accounts;
mod db;
mod domain;
mod error;
mod grpc;
mod http;
mod login_throttle;
mod signing_keys;
mod tokens;

use comms::settings::ServiceDefaults;

/// Who this service is; its settings' defaults come from here. It
/// publishes `user.registered` and consumes nothing.
pub const SERVICE: ServiceDefaults = ServiceDefaults::new("user", "USER_", &access::ACCESS)
    .ports(8081, Some(9081), 7081)
    .database("users", &startup::MIGRATOR)
    .messaging(true, false);
