//! The user service's settings, read from `USER_*` environment variables.
//!
//! | variable | default |
//! |---|---|
//! | `USER_HOST` | `0.0.0.0` |
//! | `USER_HTTP_PORT` | `8081` (0 picks a free port) |
//! | `USER_GRPC_PORT` | `9081` (0 picks a free port) |
//! | `USER_DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/users` |
//! | `USER_DATABASE_MAX_CONNECTIONS` | `10` |
//! | `USER_JWT__PRIVATE_KEY` or `USER_JWT__PRIVATE_KEY_FILE` | required: an Ed25519 PKCS#8 PEM |
//! | `USER_JWT__ISSUER` / `USER_JWT__AUDIENCE` | `switchyard-user` / `switchyard` |
//! | `USER_JWT__TTL_SECS` | `900` |
//! | `USER_SEED_ADMIN__EMAIL` / `USER_SEED_ADMIN__PASSWORD` | unset; if both are set, this admin is created at start (once); the only account that gets the admin role |
//! | `USER_SHUTDOWN_GRACE_SECS` | `20` |
//! | `USER_CONSUL_URL` | unset (no registration); e.g. `http://consul:8500` |
//! | `USER_ADVERTISE_HOST` | `127.0.0.1`; the host others reach this instance at |
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
    #[serde(default)]
    pub jwt: JwtSettings,
    #[serde(default)]
    pub seed_admin: SeedAdmin,
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    #[serde(flatten)]
    pub discovery: comms::discovery::DiscoverySettings,
    #[serde(skip)]
    pub broker: comms::messaging::settings::BrokerSettings,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct JwtSettings {
    pub private_key: Option<String>,
    pub private_key_file: Option<String>,
    #[serde(default = "default_issuer")]
    pub issuer: String,
    #[serde(default = "default_audience")]
    pub audience: String,
    #[serde(default = "default_ttl")]
    pub ttl_secs: u64,
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let mut settings: Self = comms::settings::from_env("USER_")?;
        settings.broker = comms::messaging::settings::BrokerSettings::from_env()?;
        Ok(settings)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

/// An admin account created at start if absent, so a fresh system can be
/// administered (compose and `just dev` set it; production would not).
///
/// It is the only way to the admin role. Registration never grants it, not
/// even for this email: were the seed account deleted, whoever registered
/// the address next would otherwise become an admin.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct SeedAdmin {
    pub email: Option<String>,
    pub password: Option<String>,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            private_key: None,
            private_key_file: None,
            issuer: default_issuer(),
            audience: default_audience(),
            ttl_secs: default_ttl(),
        }
    }
}

impl JwtSettings {
    /// The PEM text, from the variable itself or the file it names.
    pub fn private_key_pem(&self) -> anyhow::Result<Vec<u8>> {
        match (&self.private_key, &self.private_key_file) {
            (Some(pem), _) => Ok(pem.clone().into_bytes()),
            (None, Some(path)) => {
                std::fs::read(path).map_err(|e| anyhow::anyhow!("read USER_JWT__PRIVATE_KEY_FILE {path}: {e}"))
            }
            (None, None) => anyhow::bail!(
                "set USER_JWT__PRIVATE_KEY or USER_JWT__PRIVATE_KEY_FILE (deploy/dev-keys/ has a development key)"
            ),
        }
    }
}

fn default_host() -> String {
    "0.0.0.0".into()
}
fn default_http_port() -> u16 {
    8081
}
fn default_grpc_port() -> u16 {
    9081
}
fn default_database_url() -> String {
    "postgres://postgres@127.0.0.1:5432/users".into()
}
fn default_max_connections() -> u32 {
    10
}
fn default_issuer() -> String {
    "switchyard-user".into()
}
fn default_audience() -> String {
    "switchyard".into()
}
fn default_ttl() -> u64 {
    900
}
fn default_grace() -> u64 {
    20
}
