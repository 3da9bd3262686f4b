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
//! | `ORDER_SAGA__DEADLINE_SECS` | `3600`: a PENDING order with no answer from inventory for this long is EXPIRED (`expiry`) |
//! | `ORDER_SAGA__SWEEP_SECS` | `30`: how often each instance looks for such orders |
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
    pub saga: SagaSettings,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self { upstream_timeout_ms: 2000, saga: SagaSettings::default() }
    }
}

/// The saga's deadline and how often it is checked.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SagaSettings {
    pub deadline_secs: u64,
    pub sweep_secs: u64,
}

impl Default for SagaSettings {
    fn default() -> Self {
        // An hour: longer than inventory's consumers keep retrying a
        // transient failure, so an order is expired only once no answer can
        // still be on its way.
        Self { deadline_secs: 3600, sweep_secs: 30 }
    }
}

impl SagaSettings {
    pub fn deadline(&self) -> Duration {
        Duration::from_secs(self.deadline_secs)
    }

    /// A zero deadline would expire every order as it is placed; a zero
    /// sweep interval would spin.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.deadline_secs > 0, "ORDER_SAGA__DEADLINE_SECS must be above 0");
        anyhow::ensure!(self.sweep_secs > 0, "ORDER_SAGA__SWEEP_SECS must be above 0");
        Ok(())
    }
}

impl OrderSettings {
    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }
}
