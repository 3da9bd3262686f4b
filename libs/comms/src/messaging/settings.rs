//! Choosing the broker by configuration: `BROKER=rabbitmq|kafka` (RabbitMQ
//! by default). Nothing else in a service changes with the choice.

use std::sync::Arc;

use serde::Deserialize;

use super::broker::{BrokerError, MessageBroker};
use super::rabbitmq::{RabbitBroker, RabbitConfig};

#[derive(Clone, Debug, Deserialize)]
pub struct BrokerSettings {
    /// `rabbitmq` (default) or `kafka`.
    #[serde(default = "default_broker")]
    pub broker: String,
    #[serde(default = "default_amqp_url")]
    pub amqp_url: String,
    #[serde(default = "default_kafka_brokers")]
    pub kafka_brokers: String,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        Self { broker: default_broker(), amqp_url: default_amqp_url(), kafka_brokers: default_kafka_brokers() }
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
    /// Reads `BROKER`, `AMQP_URL` and `KAFKA_BROKERS` (shared by every
    /// service: one system, one broker).
    pub fn from_env() -> Result<Self, figment::Error> {
        figment::Figment::new()
            .merge(figment::providers::Env::raw().only(&["broker", "amqp_url", "kafka_brokers"]))
            .extract()
    }

    /// Connects; returns the broker and its name for spans.
    pub async fn connect(&self, service: &str) -> Result<(Arc<dyn MessageBroker>, &'static str), BrokerError> {
        match self.broker.as_str() {
            "rabbitmq" => {
                let broker = RabbitBroker::connect(RabbitConfig::new(self.amqp_url.clone(), service)).await?;
                Ok((broker, "rabbitmq"))
            }
            #[cfg(feature = "kafka")]
            "kafka" => {
                let config = super::kafka::KafkaConfig::new(self.kafka_brokers.clone(), service);
                Ok((super::kafka::KafkaBroker::connect(config).await?, "kafka"))
            }
            other => Err(BrokerError::Refused(format!("unknown BROKER {other:?}: use rabbitmq or kafka"))),
        }
    }
}
