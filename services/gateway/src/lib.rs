//! The API gateway: the system's only public entry point.
//!
//! Requests to `/api/**` are matched against a route table, authenticated
//! with the user service's public keys, rate-limited per address and per user, cleaned of
//! anything a client must not decide (identity headers, trace claims), and
//! streamed to an instance of the target service picked from discovery,
//! behind a circuit breaker, a bulkhead and a retry budget per service.

pub mod config;
pub mod gateway;
pub mod profile;
pub mod routes;
pub mod startup;

mod api_page;
mod attempts;
mod client;
mod headers;
mod openapi;
mod proxy;
mod rate_limit;
mod socket;
mod trusted_proxies;
