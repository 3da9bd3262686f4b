//! The user service: accounts, credentials and login.
//!
//! It owns the `users` database, issues JWTs signed with an Ed25519 key and
//! publishes the verifying key as a JWKS. REST (behind the gateway) serves
//! people; gRPC serves the other services.

pub mod accounts;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod http;
pub mod startup;
pub mod tokens;
