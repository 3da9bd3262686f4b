//! The analytics service's settings, read from `ANALYTICS_*` environment
//! variables.
//!
//! | variable | default |
//! |---|---|
//! | `ANALYTICS_HOST` | `0.0.0.0` |
//! | `ANALYTICS_HTTP_PORT` | `8085` (0 picks a free port) |
//! | `ANALYTICS_GRPC_PORT` | `9085` (0 picks a free port) |
//! | `ANALYTICS_DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/analytics` |
//! | `ANALYTICS_DATABASE_MAX_CONNECTIONS` | `10` |
//! | `ANALYTICS_SHUTDOWN_GRACE_SECS` | `20` |
//! | `ANALYTICS_CONSUL_URL` | unset (no registration); e.g. `http://consul:8500` |
//! | `ANALYTICS_ADVERTISE_HOST` | `127.0.0.1`; the host others reach this instance at |
//! | `ANALYTICS_UPSTREAMS` | unset; static discovery (analytics calls no one) |
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
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    #[serde(flatten)]
    pub discovery: comms::discovery::DiscoverySettings,
    #[serde(skip)]
    pub broker: comms::messaging::settings::BrokerSettings,
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let mut settings: Self = comms::settings::from_env("ANALYTICS_")?;
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
    8085
}
fn default_grpc_port() -> u16 {
    9085
}
fn default_database_url() -> String {
    "postgres://postgres@127.0.0.1:5432/analytics".into()
}
fn default_max_connections() -> u32 {
    10
}
fn default_grace() -> u64 {
    20
}
