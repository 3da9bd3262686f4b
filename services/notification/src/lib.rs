//! The notification service: one message per event and recipient.
//!
//! It consumes `user.registered`, the order outcomes and low-stock events,
//! stores a rendered notification for each recipient (asking the user
//! service over REST for a customer's address), and queues its delivery as
//! a task that workers send through a channel (the log or SMTP). REST lists
//! a user's notifications and streams new ones live (Server-Sent Events).
//! It owns the `notifications` database and has no gRPC API.

pub mod channel;
pub mod config;
pub mod consumers;
pub mod db;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod http;
pub mod live;
pub mod startup;
pub mod users;
