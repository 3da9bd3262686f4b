//! The notification service's own settings, read from `NOTIFICATION_*`
//! environment variables beside the ones every service reads
//! (`comms::settings::ServiceSettings`: `NOTIFICATION_HOST`, `_HTTP_PORT`
//! 8084, `_METRICS_PORT` 7084, `_DATABASE_URL`, `_DATABASE_MAX_CONNECTIONS`,
//! `_SHUTDOWN_GRACE_SECS`, `_CONSUL_URL`, `_ADVERTISE_HOST`, `_UPSTREAMS`,
//! and the unprefixed broker variables; defaults from [`crate::SERVICE`]).
//!
//! | variable | default |
//! |---|---|
//! | `NOTIFICATION_OPERATOR_EMAILS` | `ops@switchyard.local`; comma-separated, who hears about low stock |
//! | `NOTIFICATION_CHANNEL` | `log` (write each message to the log) or `smtp` |
//! | `NOTIFICATION_SMTP__HOST` / `NOTIFICATION_SMTP__PORT` | `127.0.0.1` / `1025` (compose: the mail catcher) |
//! | `NOTIFICATION_SMTP__FROM` | `notifications@switchyard.local` |
//! | `NOTIFICATION_SMTP__TIMEOUT_SECS` | `10`; per SMTP reply |
//! | `NOTIFICATION_DELIVERY_RETRY_DELAYS_MS` | `1000,5000,30000`; waits between delivery attempts |
//! | `NOTIFICATION_STREAM_KEEP_ALIVE_SECS` | `15`; comment lines on an idle live stream |
//! | `NOTIFICATION_UPSTREAMS` | static discovery without Consul, e.g. `user=127.0.0.1:8081` |

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::Address;

pub type Settings = comms::settings::Settings<NotificationSettings>;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NotificationSettings {
    /// Comma-separated addresses of the people who restock.
    pub operator_emails: String,
    pub channel: ChannelKind,
    pub smtp: SmtpSettings,
    /// Read from `"1000,5000,30000"`; attempts = delays + 1.
    #[serde(deserialize_with = "millis_list")]
    pub delivery_retry_delays_ms: Vec<u64>,
    pub stream_keep_alive_secs: u64,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            operator_emails: "ops@switchyard.local".into(),
            channel: ChannelKind::Log,
            smtp: SmtpSettings::default(),
            delivery_retry_delays_ms: vec![1_000, 5_000, 30_000],
            stream_keep_alive_secs: 15,
        }
    }
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
    pub host: String,
    pub port: u16,
    pub from: String,
    pub timeout_secs: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self { host: "127.0.0.1".into(), port: 1025, from: "notifications@switchyard.local".into(), timeout_secs: 10 }
    }
}

impl NotificationSettings {
    /// The operators' addresses, each checked.
    pub(crate) fn operators(&self) -> anyhow::Result<Vec<Address>> {
        self.operator_emails
            .split(',')
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .map(|e| Address::parse(&e).map_err(|reason| anyhow::anyhow!("NOTIFICATION_OPERATOR_EMAILS: {reason}")))
            .collect()
    }

    pub fn delivery_retry_delays(&self) -> Vec<Duration> {
        self.delivery_retry_delays_ms.iter().copied().map(Duration::from_millis).collect()
    }

    pub fn stream_keep_alive(&self) -> Duration {
        Duration::from_secs(self.stream_keep_alive_secs.max(1))
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
        let keys = super::Settings::keys(&crate::SERVICE).unwrap();
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
