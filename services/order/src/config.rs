//! The order service's own settings, read from `ORDER_*` environment
//! variables beside the ones every service reads
//! (`comms::settings::ServiceSettings`: `ORDER_HOST`, `_HTTP_PORT` 8082,
//! `_GRPC_PORT` 9082, `_METRICS_PORT` 7082, `_DATABASE_URL`, `_DATABASE_MAX_CONNECTIONS`,
//! `_SHUTDOWN_GRACE_SECS`, `_CONSUL_URL`, `_ADVERTISE_HOST`, `_UPSTREAMS`,
//! and the unprefixed broker variables; defaults from [`crate::SERVICE`]).
//!
//! | variable | default |
//! |---|---|
//! | `ORDER_UPSTREAM_TIMEOUT_MS` | `2000`: the deadline for the user and inventory calls of one placement |
//! | `ORDER_UPSTREAMS` | empty; without Consul, where `user-grpc` and `inventory-grpc` are: `user-grpc=127.0.0.1:9081;inventory-grpc=127.0.0.1:9083` |
//!
//! `ORDER_DATABASE_MAX_CONNECTIONS` is also the most placements in flight
//! at once: each holds a connection across its calls to user and
//! inventory (see `placing`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub type Settings = comms::settings::Settings<OrderSettings>;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct OrderSettings {
    pub upstream_timeout_ms: u64,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self { upstream_timeout_ms: 2000 }
    }
}

impl OrderSettings {
    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }
}
