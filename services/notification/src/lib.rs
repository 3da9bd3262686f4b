//! The notification service: one message per event and recipient.
//!
//! It consumes `user.registered`, the order outcomes and low-stock events,
//! stores a rendered notification for each recipient (asking the user
//! service over REST for a customer's address), and queues its delivery as
//! a task that workers send through a channel (the log or SMTP). REST lists
//! a user's notifications and streams new ones live (Server-Sent Events).
//! It owns the `notifications` database and has no gRPC API.

pub mod access;
pub mod config;
pub mod delivery;
pub mod startup;
pub mod state;

mod channel;
mod consumers;
mod db;
mod domain;
mod error;
mod http;
mod live;
mod users;

use comms::settings::ServiceDefaults;

/// Who this service is; its settings' defaults come from here. It has no
/// gRPC API; what it publishes is its delivery tasks.
pub const SERVICE: ServiceDefaults = ServiceDefaults::new("notification", "NOTIFICATION_", &access::ACCESS)
    .ports(8084, None, 7084)
    .database("notifications", &startup::MIGRATOR)
    .messaging(true, true);
