//! The gateway's integration tests: a real gateway in front of a test
//! upstream that reports what it received, with tokens signed by the
//! development key the user service uses.

mod api_page;
mod auth;
mod discovery;
mod failures;
mod half_sent;
mod helpers;
mod limits;
mod openapi;
mod profile;
mod rate_limit;
mod resilience;
mod routing;
mod streaming;
