//! The order service's settings, read from `ORDER_*` environment variables.
//!
//! | variable | default |
//! |---|---|
//! | `ORDER_HOST` | `0.0.0.0` |
//! | `ORDER_HTTP_PORT` | `8082` (0 picks a free port) |
//! | `ORDER_GRPC_PORT` | `9082` (0 picks a free port) |
//! | `ORDER_DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/orders` |
//! | `ORDER_DATABASE_MAX_CONNECTIONS` | `10` |
//! | `ORDER_UPSTREAM_TIMEOUT_MS` | `2000`: the deadline for the user and inventory calls of one placement |
//! | `ORDER_SHUTDOWN_GRACE_SECS` | `20` |
//! | `ORDER_CONSUL_URL` | unset: static discovery from `ORDER_UPSTREAMS`; e.g. `http://consul:8500` |
//! | `ORDER_ADVERTISE_HOST` | `127.0.0.1`; the host others reach this instance at |
//! | `ORDER_UPSTREAMS` | empty; without Consul, where `user-grpc` and `inventory-grpc` are: `user-grpc=127.0.0.1:9081;inventory-grpc=127.0.0.1:9083` |
//!
//! The broker is shared by the whole system, so its variables have no
//! prefix: `BROKER`, `AMQP_URL`, `KAFKA_BROKERS`, `BROKER_NAMESPACE`
//! (see `comms::messaging::settings`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Settings {
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "default_http_port")]
    pub http_port: u16,
    #[serde(default = "default_grpc_port")]
    pub grpc_port: u16,
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// Also the most placements in flight at once: each holds a connection
    /// across its calls to user and inventory (see `placing`).
    #[serde(default = "default_max_connections")]
    pub database_max_connections: u32,
    #[serde(default = "default_upstream_timeout")]
    pub upstream_timeout_ms: u64,
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    #[serde(flatten)]
    pub discovery: comms::discovery::DiscoverySettings,
    #[serde(skip)]
    pub broker: comms::messaging::settings::BrokerSettings,
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let mut settings: Self = comms::settings::from_env("ORDER_")?;
        settings.broker = comms::messaging::settings::BrokerSettings::from_env()?;
        Ok(settings)
    }

    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

fn default_host() -> String {
    "0.0.0.0".into()
}
fn default_http_port() -> u16 {
    8082
}
fn default_grpc_port() -> u16 {
    9082
}
fn default_database_url() -> String {
    "postgres://postgres@127.0.0.1:5432/orders".into()
}
fn default_max_connections() -> u32 {
    10
}
fn default_upstream_timeout() -> u64 {
    2000
}
fn default_grace() -> u64 {
    20
}
