//! The analytics service: aggregates of every domain event.
//!
//! It owns the `analytics` database and consumes every event type in
//! `events::ALL_TYPES`. It publishes nothing. REST (behind the gateway,
//! admins only) serves a summary and per-minute series; gRPC streams the
//! summary live.
//!
//! # Facts, not counters
//!
//! Events arrive at least once and in any order: `order.confirmed` can
//! overtake the `order.placed` it answers, a redelivery can come minutes
//! later, and a cancellation undoes a confirmation's revenue. Counters
//! bumped per event would need a compensating update for every pair of
//! events that can meet in either order. Instead the consumer records
//! facts ([`db`]): one row per order with the time each stage was reached
//! (the earliest seen, from the envelope), one row per registered user, and
//! a count per event type per minute. The order's status is a generated
//! column over its stage times, by precedence (cancelled, then confirmed
//! or rejected, then expired, then pending), so it is the same whatever order the events
//! came in. Every aggregate is a query over these facts, read from one
//! snapshot of the database.
//!
//! The one counter, events per type per minute, moves in the transaction
//! that inserts the event's inbox row: it moves once per event or not at
//! all ([`consumer`]).
//!
//! The price of deriving is a query over the facts per summary. The live
//! feed ([`feed`]) recomputes at most once per pacing interval however
//! fast events come, and REST reads are admin-only, so that stays small.

pub mod access;
pub mod config;
pub mod consumer;
pub mod startup;
pub mod state;

mod db;
mod domain;
mod error;
mod feed;
mod grpc;
mod http;

use comms::settings::ServiceDefaults;

/// Who this service is; its settings' defaults come from here. It
/// publishes nothing, so no outbox relay runs.
pub const SERVICE: ServiceDefaults = ServiceDefaults::new("analytics", "ANALYTICS_", &access::ACCESS)
    .ports(8085, Some(9085), 7085)
    .database("analytics", &startup::MIGRATOR)
    .messaging(false, true);
