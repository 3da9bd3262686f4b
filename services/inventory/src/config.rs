//! The inventory service's settings, read from `INVENTORY_*` environment
//! variables.
//!
//! | variable | default |
//! |---|---|
//! | `INVENTORY_HOST` | `0.0.0.0` |
//! | `INVENTORY_HTTP_PORT` | `8083` (0 picks a free port) |
//! | `INVENTORY_GRPC_PORT` | `9083` (0 picks a free port) |
//! | `INVENTORY_DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/inventory` |
//! | `INVENTORY_DATABASE_MAX_CONNECTIONS` | `10` |
//! | `INVENTORY_LOW_STOCK_THRESHOLD` | `5`; `inventory.low_stock` is emitted when stock falls from above it to at or below it |
//! | `INVENTORY_WATCH_BUFFER` | `256`; stock changes a `WatchStock` reader may fall behind before it is dropped |
//! | `INVENTORY_SEED_DEMO_PRODUCTS` | `false`; `true` inserts a few demo products at start (once) |
//! | `INVENTORY_SHUTDOWN_GRACE_SECS` | `20` |
//! | `INVENTORY_CONSUL_URL` | unset (no registration); e.g. `http://consul:8500` |
//! | `INVENTORY_ADVERTISE_HOST` | `127.0.0.1`; the host others reach this instance at |
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
    #[serde(default = "default_max_connections")]
    pub database_max_connections: u32,
    #[serde(default = "default_low_stock_threshold")]
    pub low_stock_threshold: u32,
    #[serde(default = "default_watch_buffer")]
    pub watch_buffer: usize,
    #[serde(default)]
    pub seed_demo_products: bool,
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    #[serde(flatten)]
    pub discovery: comms::discovery::DiscoverySettings,
    #[serde(skip)]
    pub broker: comms::messaging::settings::BrokerSettings,
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let mut settings: Self = comms::settings::from_env("INVENTORY_")?;
        settings.broker = comms::messaging::settings::BrokerSettings::from_env()?;
        Ok(settings)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

fn default_host() -> String {
    "0.0.0.0".into()
}
fn default_http_port() -> u16 {
    8083
}
fn default_grpc_port() -> u16 {
    9083
}
fn default_database_url() -> String {
    "postgres://postgres@127.0.0.1:5432/inventory".into()
}
fn default_max_connections() -> u32 {
    10
}
fn default_low_stock_threshold() -> u32 {
    5
}
fn default_watch_buffer() -> usize {
    256
}
fn default_grace() -> u64 {
    20
}
