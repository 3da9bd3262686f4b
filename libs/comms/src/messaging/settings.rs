//! Choosing the broker by configuration: `BROKER=rabbitmq|kafka` (RabbitMQ
//! by default). Nothing else in a service changes with the choice.

use std::sync::Arc;

use serde::Deserialize;

use super::broker::{BrokerError, MessageBroker};
use super::dead_letters::DeadLetterQueues;
use super::rabbitmq::{RabbitBroker, RabbitConfig};

/// A connected broker, the same client as its dead-letter queues, and its
/// name for spans.
pub type Connected = (Arc<dyn MessageBroker>, Arc<dyn DeadLetterQueues>, &'static str);

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct BrokerSettings {
    /// `rabbitmq` (default) or `kafka`.
    #[serde(default = "default_broker")]
    pub broker: String,
    #[serde(default = "default_amqp_url")]
    pub amqp_url: String,
    /// The AMQP password, read from this file and put into `amqp_url`, so
    /// it appears in no URL, environment listing or log (compose: each
    /// service's own broker user, from deploy/secrets.sh).
    #[serde(default)]
    pub amqp_password_file: Option<String>,
    #[serde(default = "default_kafka_brokers")]
    pub kafka_brokers: String,
    /// Prefixes the exchange, queues, topics and groups, so several systems
    /// (test runs) can share one broker. Empty by default.
    #[serde(default)]
    pub broker_namespace: String,
    /// Let the broker delete queues unused this long (test systems clean up
    /// after themselves). Unset in production.
    #[serde(default)]
    pub broker_queue_expiry_secs: Option<u64>,
    /// Messages each subscription takes at once. Unset: 16, or the
    /// database pool's size if that is smaller. Set above the pool, start-up
    /// stops: each message in flight holds a connection, so the extra ones
    /// would only wait for one while the broker counts them as taken.
    #[serde(default)]
    pub broker_prefetch: Option<u16>,
    /// How long a handler's transient failure is retried, with capped
    /// back-off, before the message is dead-lettered (default 1800: long
    /// enough to outlast a database failover or a dependency's restart).
    #[serde(default = "default_retry_span_secs")]
    pub broker_retry_span_secs: u64,
    /// A subscription that has not consumed for this long fails
    /// `/health/live` (default 300), so an orchestrator restarts the
    /// instance; until then it only degrades `/health/ready`.
    #[serde(default = "default_restore_deadline_secs")]
    pub broker_restore_deadline_secs: u64,
    /// RabbitMQ: deliveries of one message after which its queue
    /// dead-letters it (default 20), for a message whose handler panics or
    /// never finishes; handlers' own failures retry by the span above.
    #[serde(default = "default_delivery_limit")]
    pub broker_delivery_limit: u32,
    /// How often each subscription's dead letters are counted for the
    /// gauge `dead_letters_waiting` (default 15).
    #[serde(default = "default_dead_letter_check_secs")]
    pub broker_dead_letter_check_secs: u64,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        Self {
            broker: default_broker(),
            amqp_url: default_amqp_url(),
            amqp_password_file: None,
            kafka_brokers: default_kafka_brokers(),
            broker_namespace: String::new(),
            broker_queue_expiry_secs: None,
            broker_prefetch: None,
            broker_retry_span_secs: default_retry_span_secs(),
            broker_restore_deadline_secs: default_restore_deadline_secs(),
            broker_delivery_limit: default_delivery_limit(),
            broker_dead_letter_check_secs: default_dead_letter_check_secs(),
        }
    }
}

fn default_retry_span_secs() -> u64 {
    super::broker::DEFAULT_RETRY_SPAN.as_secs()
}

fn default_restore_deadline_secs() -> u64 {
    300
}

fn default_dead_letter_check_secs() -> u64 {
    15
}

fn default_delivery_limit() -> u32 {
    super::rabbitmq::DEFAULT_DELIVERY_LIMIT
}

fn default_broker() -> String {
    "rabbitmq".into()
}
fn default_amqp_url() -> String {
    "amqp://guest:guest@127.0.0.1:5672/%2f".into()
}
fn default_kafka_brokers() -> String {
    "127.0.0.1:19092".into()
}

impl BrokerSettings {
    /// Reads `BROKER`, `AMQP_URL`, `AMQP_PASSWORD_FILE`, `KAFKA_BROKERS`,
    /// `BROKER_NAMESPACE`, `BROKER_QUEUE_EXPIRY_SECS`, `BROKER_PREFETCH`,
    /// `BROKER_RETRY_SPAN_SECS`, `BROKER_RESTORE_DEADLINE_SECS`,
    /// `BROKER_DELIVERY_LIMIT` and `BROKER_DEAD_LETTER_CHECK_SECS` (unprefixed: one
    /// system, one broker; compose gives each service its own user).
    pub fn from_env() -> Result<Self, figment::Error> {
        figment::Figment::new()
            .merge(figment::providers::Env::raw().only(&[
                "broker",
                "amqp_url",
                "amqp_password_file",
                "kafka_brokers",
                "broker_namespace",
                "broker_queue_expiry_secs",
                "broker_prefetch",
                "broker_retry_span_secs",
                "broker_restore_deadline_secs",
                "broker_delivery_limit",
                "broker_dead_letter_check_secs",
            ]))
            .extract()
    }

    /// The prefetch for subscriptions of a service whose pool holds
    /// `pool` connections, or why the settings are refused.
    pub fn prefetch(&self, pool: u32) -> anyhow::Result<u16> {
        let fits = u16::try_from(pool).unwrap_or(u16::MAX).max(1);
        match self.broker_prefetch {
            Some(0) => anyhow::bail!("BROKER_PREFETCH must be above 0"),
            Some(prefetch) if u32::from(prefetch) > pool => anyhow::bail!(
                "BROKER_PREFETCH is {prefetch}, above the database pool's {pool} connections: each message in flight \
                 holds one; lower BROKER_PREFETCH or raise the service's DATABASE_MAX_CONNECTIONS"
            ),
            Some(prefetch) => Ok(prefetch),
            None => Ok(super::broker::DEFAULT_PREFETCH.min(fits)),
        }
    }

    /// The waits between attempts of a handler that fails transiently.
    pub fn retry_delays(&self) -> Vec<std::time::Duration> {
        super::broker::retry_schedule(std::time::Duration::from_secs(self.broker_retry_span_secs))
    }

    /// Connects; returns the broker and its name for spans.
    pub async fn connect(&self, service: &str) -> Result<(Arc<dyn MessageBroker>, &'static str), BrokerError> {
        let (broker, _, system) = self.connect_with_dead_letters(service).await?;
        Ok((broker, system))
    }

    /// Connects; returns the broker, its dead-letter queues (the same
    /// client) and its name for spans.
    pub async fn connect_with_dead_letters(&self, service: &str) -> Result<Connected, BrokerError> {
        match self.broker.as_str() {
            "rabbitmq" => {
                let mut config = RabbitConfig::new(self.amqp_uri()?, service);
                config.exchange = format!("{}{}", self.broker_namespace, config.exchange);
                config.prefix.clone_from(&self.broker_namespace);
                config.queue_expiry = self.broker_queue_expiry_secs.map(std::time::Duration::from_secs);
                if self.broker_delivery_limit == 0 {
                    return Err(BrokerError::Refused("BROKER_DELIVERY_LIMIT must be above 0".into()));
                }
                config.delivery_limit = self.broker_delivery_limit;
                let broker = RabbitBroker::connect(config).await?;
                Ok((broker.clone(), broker, "rabbitmq"))
            }
            #[cfg(feature = "kafka")]
            "kafka" => {
                let mut config = super::kafka::KafkaConfig::new(self.kafka_brokers.clone(), service);
                config.prefix.clone_from(&self.broker_namespace);
                let broker = super::kafka::KafkaBroker::connect(config).await?;
                Ok((broker.clone(), broker, "kafka"))
            }
            other => Err(BrokerError::Refused(format!("unknown BROKER {other:?}: use rabbitmq or kafka"))),
        }
    }

    /// `amqp_url`, with the password from `amqp_password_file` if set.
    fn amqp_uri(&self) -> Result<String, BrokerError> {
        let Some(path) = &self.amqp_password_file else { return Ok(self.amqp_url.clone()) };
        let password =
            crate::secret::read_secret(path, "AMQP_PASSWORD_FILE").map_err(|e| BrokerError::Refused(e.to_string()))?;
        with_password(&self.amqp_url, &password)
            .ok_or_else(|| BrokerError::Refused("AMQP_URL names no user for AMQP_PASSWORD_FILE's password".into()))
    }
}

/// `amqp://user@host/...` with `password` after the user, percent-encoded
/// (a password set in the URL is replaced).
fn with_password(url: &str, password: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (userinfo, host) = rest.split_once('@')?;
    let user = userinfo.split(':').next()?;
    let encoded: String = password
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    Some(format!("{scheme}://{user}:{encoded}@{host}"))
}

#[cfg(test)]
mod tests {
    use super::{BrokerSettings, with_password};

    #[test]
    fn the_prefetch_never_exceeds_the_pool() {
        let unset = BrokerSettings::default();
        assert_eq!(unset.prefetch(10).unwrap(), 10, "16 by default, but the pool holds 10");
        assert_eq!(unset.prefetch(40).unwrap(), 16);
        let set = |n| BrokerSettings { broker_prefetch: Some(n), ..BrokerSettings::default() };
        assert_eq!(set(8).prefetch(10).unwrap(), 8);
        let refused = set(20).prefetch(10).unwrap_err().to_string();
        assert!(refused.contains("BROKER_PREFETCH") && refused.contains("DATABASE_MAX_CONNECTIONS"), "{refused}");
        assert!(set(0).prefetch(10).is_err());
    }

    #[test]
    fn the_password_goes_after_the_user_encoded_and_replaces_one_in_the_url() {
        assert_eq!(
            with_password("amqp://order@rabbitmq:5672/%2f", "a/b+c").as_deref(),
            Some("amqp://order:a%2Fb%2Bc@rabbitmq:5672/%2f")
        );
        assert_eq!(with_password("amqp://order:old@h/%2f", "new").as_deref(), Some("amqp://order:new@h/%2f"));
        assert_eq!(with_password("amqp://h/%2f", "new"), None, "no user to give it to");
    }
}
