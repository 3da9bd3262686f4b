//! Choosing the broker by configuration: `BROKER=rabbitmq|kafka` (RabbitMQ
//! by default). Nothing else in a service changes with the choice.

use std::sync::Arc;

use serde::Deserialize;

use super::broker::{BrokerError, MessageBroker};
use super::rabbitmq::{RabbitBroker, RabbitConfig};

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct BrokerSettings {
    /// `rabbitmq` (default) or `kafka`.
    #[serde(default = "default_broker")]
    pub broker: String,
    #[serde(default = "default_amqp_url")]
    pub amqp_url: String,
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
}

impl Default for BrokerSettings {
    fn default() -> Self {
        Self {
            broker: default_broker(),
            amqp_url: default_amqp_url(),
            kafka_brokers: default_kafka_brokers(),
            broker_namespace: String::new(),
            broker_queue_expiry_secs: None,
        }
    }
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
    /// Reads `BROKER`, `AMQP_URL`, `KAFKA_BROKERS`, `BROKER_NAMESPACE` and
    /// `BROKER_QUEUE_EXPIRY_SECS` (shared by every service: one system, one
    /// broker).
    pub fn from_env() -> Result<Self, figment::Error> {
        figment::Figment::new()
            .merge(figment::providers::Env::raw().only(&[
                "broker",
                "amqp_url",
                "kafka_brokers",
                "broker_namespace",
                "broker_queue_expiry_secs",
            ]))
            .extract()
    }

    /// Connects; returns the broker and its name for spans.
    pub async fn connect(&self, service: &str) -> Result<(Arc<dyn MessageBroker>, &'static str), BrokerError> {
        match self.broker.as_str() {
            "rabbitmq" => {
                let mut config = RabbitConfig::new(self.amqp_url.clone(), service);
                config.exchange = format!("{}{}", self.broker_namespace, config.exchange);
                config.prefix.clone_from(&self.broker_namespace);
                config.queue_expiry = self.broker_queue_expiry_secs.map(std::time::Duration::from_secs);
                let broker = RabbitBroker::connect(config).await?;
                Ok((broker, "rabbitmq"))
            }
            #[cfg(feature = "kafka")]
            "kafka" => {
                let mut config = super::kafka::KafkaConfig::new(self.kafka_brokers.clone(), service);
                config.prefix.clone_from(&self.broker_namespace);
                Ok((super::kafka::KafkaBroker::connect(config).await?, "kafka"))
            }
            other => Err(BrokerError::Refused(format!("unknown BROKER {other:?}: use rabbitmq or kafka"))),
        }
    }
}
