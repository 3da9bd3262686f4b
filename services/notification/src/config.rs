//! The notification service's settings, read from `NOTIFICATION_*`
//! environment variables.
//!
//! | variable | default |
//! |---|---|
//! | `NOTIFICATION_HOST` | `0.0.0.0` |
//! | `NOTIFICATION_HTTP_PORT` | `8084` (0 picks a free port) |
//! | `NOTIFICATION_DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/notifications` |
//! | `NOTIFICATION_DATABASE_MAX_CONNECTIONS` | `10` |
//! | `NOTIFICATION_OPERATOR_EMAILS` | `ops@switchyard.local`; comma-separated, who hears about low stock |
//! | `NOTIFICATION_CHANNEL` | `log` (write each message to the log) or `smtp` |
//! | `NOTIFICATION_SMTP__HOST` / `NOTIFICATION_SMTP__PORT` | `127.0.0.1` / `1025` (compose: the mail catcher) |
//! | `NOTIFICATION_SMTP__FROM` | `notifications@switchyard.local` |
//! | `NOTIFICATION_SMTP__TIMEOUT_SECS` | `10`; per SMTP reply |
//! | `NOTIFICATION_DELIVERY_RETRY_DELAYS_MS` | `1000,5000,30000`; waits between delivery attempts |
//! | `NOTIFICATION_STREAM_KEEP_ALIVE_SECS` | `15`; comment lines on an idle live stream |
//! | `NOTIFICATION_SHUTDOWN_GRACE_SECS` | `20` |
//! | `NOTIFICATION_CONSUL_URL` | unset (static discovery, no registration); e.g. `http://consul:8500` |
//! | `NOTIFICATION_ADVERTISE_HOST` | `127.0.0.1`; the host others reach this instance at |
//! | `NOTIFICATION_UPSTREAMS` | static discovery without Consul, e.g. `user=127.0.0.1:8081` |
//!
//! The broker is shared by the whole system, so its variables have no
//! prefix: `BROKER`, `AMQP_URL`, `KAFKA_BROKERS`, `BROKER_NAMESPACE`
//! (see `comms::messaging::settings`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Settings {
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "default_http_port")]
    pub http_port: u16,
    #[serde(default = "default_database_url")]
    pub database_url: String,
    #[serde(default = "default_max_connections")]
    pub database_max_connections: u32,
    /// Comma-separated addresses of the people who restock.
    #[serde(default = "default_operator_emails")]
    pub operator_emails: String,
    #[serde(default)]
    pub channel: ChannelKind,
    #[serde(default)]
    pub smtp: SmtpSettings,
    /// Read from `"1000,5000,30000"`; attempts = delays + 1.
    #[serde(default = "default_retry_delays", deserialize_with = "millis_list")]
    pub delivery_retry_delays_ms: Vec<u64>,
    #[serde(default = "default_keep_alive")]
    pub stream_keep_alive_secs: u64,
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    #[serde(flatten)]
    pub discovery: comms::discovery::DiscoverySettings,
    #[serde(skip)]
    pub broker: comms::messaging::settings::BrokerSettings,
}

/// Where messages go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Into the log: `just dev` needs no mail server.
    #[default]
    Log,
    Smtp,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SmtpSettings {
    #[serde(default = "default_smtp_host")]
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default = "default_smtp_from")]
    pub from: String,
    #[serde(default = "default_smtp_timeout")]
    pub timeout_secs: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: default_smtp_host(),
            port: default_smtp_port(),
            from: default_smtp_from(),
            timeout_secs: default_smtp_timeout(),
        }
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let mut settings: Self = comms::settings::from_env("NOTIFICATION_")?;
        settings.broker = comms::messaging::settings::BrokerSettings::from_env()?;
        Ok(settings)
    }

    pub fn operator_emails(&self) -> Vec<String> {
        self.operator_emails.split(',').map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty()).collect()
    }

    pub fn delivery_retry_delays(&self) -> Vec<Duration> {
        self.delivery_retry_delays_ms.iter().copied().map(Duration::from_millis).collect()
    }

    pub fn stream_keep_alive(&self) -> Duration {
        Duration::from_secs(self.stream_keep_alive_secs.max(1))
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

/// The environment parser reads `1000` as a number and `1000,5000` as a
/// string; both mean a list of milliseconds here.
fn millis_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(u64),
        Many(Vec<u64>),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::One(ms) => Ok(vec![ms]),
        Raw::Many(list) => Ok(list),
        Raw::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| part.parse().map_err(|_| serde::de::Error::custom(format!("{part:?} is not milliseconds"))))
            .collect(),
    }
}

fn default_host() -> String {
    "0.0.0.0".into()
}
fn default_http_port() -> u16 {
    8084
}
fn default_database_url() -> String {
    "postgres://postgres@127.0.0.1:5432/notifications".into()
}
fn default_max_connections() -> u32 {
    10
}
fn default_operator_emails() -> String {
    "ops@switchyard.local".into()
}
fn default_smtp_host() -> String {
    "127.0.0.1".into()
}
fn default_smtp_port() -> u16 {
    1025
}
fn default_smtp_from() -> String {
    "notifications@switchyard.local".into()
}
fn default_smtp_timeout() -> u64 {
    10
}
fn default_retry_delays() -> Vec<u64> {
    vec![1_000, 5_000, 30_000]
}
fn default_keep_alive() -> u64 {
    15
}
fn default_grace() -> u64 {
    20
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Delays {
        #[serde(deserialize_with = "super::millis_list")]
        ms: Vec<u64>,
    }

    fn delays(json: &str) -> Result<Vec<u64>, serde_json::Error> {
        serde_json::from_str::<Delays>(json).map(|d| d.ms)
    }

    #[test]
    fn delivery_delays_are_one_number_or_a_comma_separated_list() {
        assert_eq!(delays(r#"{"ms": 1000}"#).unwrap(), [1000]);
        assert_eq!(delays(r#"{"ms": "1000, 5000,30000"}"#).unwrap(), [1000, 5000, 30000]);
        assert!(delays(r#"{"ms": "1000,soon"}"#).is_err());
    }

    #[test]
    fn every_documented_variable_is_a_settings_key() {
        let keys = comms::settings::keys::<super::Settings>("NOTIFICATION_").unwrap();
        for documented in [
            "NOTIFICATION_CHANNEL",
            "NOTIFICATION_SMTP__HOST",
            "NOTIFICATION_SMTP__PORT",
            "NOTIFICATION_SMTP__FROM",
            "NOTIFICATION_DELIVERY_RETRY_DELAYS_MS",
            "NOTIFICATION_OPERATOR_EMAILS",
            "NOTIFICATION_UPSTREAMS",
        ] {
            assert!(keys.iter().any(|k| k == documented), "{documented} missing from {keys:?}");
        }
    }
}
