//! Kafka behind the `MessageBroker` trait (rdkafka, librdkafka built in).
//!
//! **One topic per event type** (`order.placed`), not one per aggregate
//! stream: it mirrors RabbitMQ's routing keys one to one, so a service's
//! subscription means the same on both brokers, and "nobody subscribed"
//! means the same too (the topic does not exist, so publishing is refused,
//! as an unroutable mandatory message is on RabbitMQ). The cost: events of
//! one aggregate but different types are not ordered relative to each
//! other. Within a type, the record key is the envelope's `subject`, so all
//! events of one order go to one partition and keep their order.
//!
//! | what | Kafka | RabbitMQ equivalent |
//! |---|---|---|
//! | domain events | topic per type, 3 partitions | topic exchange, routing key = type |
//! | a service's copy | consumer group = service name | the service's queue |
//! | replicas compete | members of the group share partitions | consumers on one queue |
//! | task queue | topic + one group of workers | a queue by name |
//! | retry after a delay | `{name}.retry.{n}` topics, one per distinct delay, each read after its delay | TTL queues |
//! | dead letters | `{name}.dlq` topic | `{name}.dlq` queue |
//! | message metadata | record headers | AMQP properties and headers |
//!
//! The producer is idempotent with `acks=all`; a record counts as published
//! only once the broker acknowledged it. Consumers store an offset for
//! commit only after the handler returned (its transaction committed); the
//! client commits stored offsets every second, on a rebalance and on close.
//! A failing message moves to a retry topic and its offset is stored, so it
//! never blocks the messages behind it on its partition.

mod consumer;
mod dead_letters;

/// When a retried message may be handled again (epoch milliseconds).
const NOT_BEFORE: &str = "x-not-before";
/// A marker record in a dead-letter topic (no body): the id of the dead
/// letter the dlq tool replayed ([`dead_letters`]).
const SETTLED: &str = "x-settled";

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, join_all};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::broker::{
    BrokerError, Destination, Handler, MessageBroker, OutgoingMessage, PublishError, Subscription, SubscriptionId,
    SubscriptionKind, headers,
};
use super::consuming::Consuming;
use super::consumption::Consumption;

#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// `127.0.0.1:19092`.
    pub brokers: String,
    /// Prepended to every topic and group name: a namespace per system (or
    /// per test).
    pub prefix: String,
    /// Partitions per topic created here (default 3: enough for replicas
    /// to share the work, few enough for a laptop).
    pub partitions: i32,
    pub client_id: String,
}

impl KafkaConfig {
    pub fn new(brokers: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self { brokers: brokers.into(), prefix: String::new(), partitions: 3, client_id: client_id.into() }
    }

    fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

pub struct KafkaBroker {
    config: KafkaConfig,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    subscriptions: Mutex<HashMap<u64, (String, Consuming)>>,
    next_id: AtomicU64,
    consumption: Consumption,
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        for (_, (_, consuming)) in self.subscriptions.lock().expect("subscriptions lock").drain() {
            consuming.abort();
        }
    }
}

impl KafkaBroker {
    /// Creates the clients and checks the broker answers (10 s).
    pub async fn connect(config: KafkaConfig) -> Result<Arc<Self>, BrokerError> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("client.id", &config.client_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // Never let publishing create a topic: a type nobody subscribed
            // to must be refused, as on RabbitMQ, even on a cluster that
            // auto-creates topics.
            .set("allow.auto.create.topics", "false")
            // A record not acknowledged within 10 s fails; the outbox retries it.
            .set("message.timeout.ms", "10000")
            // How long to wait for a topic to appear before refusing a record
            // for it: long enough for a topic created a moment ago.
            .set("topic.metadata.propagation.max.ms", "3000")
            .set("linger.ms", "2")
            .create()
            .map_err(|e| BrokerError::Unavailable(e.to_string()))?;
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .create()
            .map_err(|e| BrokerError::Unavailable(e.to_string()))?;
        let probe = producer.clone();
        tokio::task::spawn_blocking(move || {
            rdkafka::producer::Producer::client(&probe).fetch_metadata(None, Duration::from_secs(10))
        })
        .await
        .map_err(|e| BrokerError::Unavailable(e.to_string()))?
        .map_err(|e| BrokerError::Unavailable(format!("no Kafka broker at {}: {e}", config.brokers)))?;
        let consumption = Consumption::default();
        Ok(Arc::new(Self {
            config,
            producer,
            admin,
            subscriptions: Mutex::default(),
            next_id: AtomicU64::new(1),
            consumption,
        }))
    }

    /// Creates topics that do not exist yet (existing ones are fine).
    async fn ensure_topics(&self, names: &[String]) -> Result<(), BrokerError> {
        let topics: Vec<NewTopic<'_>> =
            names.iter().map(|n| NewTopic::new(n, self.config.partitions, TopicReplication::Fixed(1))).collect();
        let results = self
            .admin
            .create_topics(&topics, &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))))
            .await
            .map_err(|e| BrokerError::Unavailable(e.to_string()))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => return Err(BrokerError::Refused(format!("create topic {topic}: {code}"))),
            }
        }
        Ok(())
    }

    fn topic_for(&self, message: &OutgoingMessage) -> String {
        match &message.destination {
            Destination::Event => self.config.topic(&message.event_type),
            Destination::Task { queue } => self.config.topic(queue),
        }
    }

    /// Sends one record and waits for the broker's acknowledgement.
    async fn send(
        &self,
        topic: &str,
        message: &OutgoingMessage,
        attempt: u32,
        extra: &[(&str, String)],
    ) -> Result<(), PublishError> {
        let key = message.subject.clone().unwrap_or_else(|| message.id.to_string());
        let record = FutureRecord::to(topic)
            .key(&key)
            .payload(&message.body)
            .timestamp(message.timestamp.timestamp_millis())
            .headers(record_headers(message, attempt, extra));
        match self.producer.send(record, Duration::from_secs(5)).await {
            Ok(_) => Ok(()),
            Err((
                KafkaError::MessageProduction(
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic,
                ),
                _,
            )) => Err(PublishError::Unroutable(topic.to_owned())),
            Err((
                error @ KafkaError::MessageProduction(
                    RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidRecord,
                ),
                _,
            )) => Err(PublishError::Refused(error.to_string())),
            Err((error, _)) => Err(PublishError::Unavailable(error.to_string())),
        }
    }

    /// Topic and group names of a subscription.
    fn names(&self, subscription: &Subscription) -> consumer::Names {
        let name = &subscription.name;
        let main = match &subscription.kind {
            SubscriptionKind::Events { types } => types.iter().map(|t| self.config.topic(t)).collect(),
            SubscriptionKind::Tasks => vec![self.config.topic(name)],
            SubscriptionKind::DeadLetters => vec![self.config.topic(&format!("{name}.dlq"))],
        };
        let retries = subscription
            .retry_levels()
            .into_iter()
            .enumerate()
            .map(|(i, delay)| (self.config.topic(&format!("{name}.retry.{}", i + 1)), delay))
            .collect();
        let group = match subscription.kind {
            SubscriptionKind::DeadLetters => self.config.topic(&format!("{name}.dlq-reader")),
            _ => self.config.topic(name),
        };
        consumer::Names { main, retries, dead_letters: self.config.topic(&format!("{name}.dlq")), group }
    }
}

fn record_headers(message: &OutgoingMessage, attempt: u32, extra: &[(&str, String)]) -> OwnedHeaders {
    let id = message.id.to_string();
    let attempt = attempt.to_string();
    let version = message.schema_version.to_string();
    let mut headers = OwnedHeaders::new()
        .insert(Header { key: "message-id", value: Some(id.as_str()) })
        .insert(Header { key: "correlation-id", value: Some(message.correlation_id.as_str()) })
        .insert(Header { key: "type", value: Some(message.event_type.as_str()) })
        .insert(Header { key: "content-type", value: Some("application/json") })
        .insert(Header { key: headers::SOURCE, value: Some(message.source.as_str()) })
        .insert(Header { key: headers::SCHEMA_VERSION, value: Some(version.as_str()) })
        .insert(Header { key: headers::ATTEMPT, value: Some(attempt.as_str()) });
    for (key, value) in &message.headers {
        headers = headers.insert(Header { key: key.as_str(), value: Some(value.as_str()) });
    }
    for (key, value) in extra {
        headers = headers.insert(Header { key, value: Some(value.as_str()) });
    }
    headers
}

impl MessageBroker for KafkaBroker {
    fn publish<'a>(&'a self, messages: &'a [OutgoingMessage]) -> BoxFuture<'a, Vec<Result<(), PublishError>>> {
        // Every record is handed to the producer before any acknowledgement
        // is awaited: the window is the whole batch.
        Box::pin(join_all(messages.iter().map(|m| async move { self.send(&self.topic_for(m), m, 1, &[]).await })))
    }

    fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>> {
        Box::pin(async move {
            let names = self.names(&subscription);
            let mut topics = names.main.clone();
            if subscription.kind != SubscriptionKind::DeadLetters {
                topics.extend(names.retries.iter().map(|(t, _)| t.clone()));
                topics.push(names.dead_letters.clone());
            }
            self.ensure_topics(&topics).await?;
            let consumption = self.consumption.clone();
            let consuming =
                consumer::start(&self.config, self.producer.clone(), &names, &subscription, handler, consumption).await;
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            self.subscriptions.lock().expect("subscriptions lock").insert(id, (names.group.clone(), consuming));
            Ok(SubscriptionId(id))
        })
    }

    fn unsubscribe(&self, id: SubscriptionId) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            if let Some((name, consuming)) = self.subscriptions.lock().expect("subscriptions lock").remove(&id.0) {
                // Each member finishes the message it holds, commits, and
                // leaves its group; its partitions move to the others.
                consuming.stop();
                self.consumption.forget(&name);
            }
            Ok(())
        })
    }

    fn declare_task_queue<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move { self.ensure_topics(&[self.config.topic(queue)]).await })
    }

    fn consumption(&self) -> Consumption {
        self.consumption.clone()
    }
}

/// Moves a message to another topic (retry or dead letters), keeping its
/// identity, and waits for the acknowledgement.
pub(super) async fn forward(
    producer: &FutureProducer,
    topic: &str,
    key: Option<&[u8]>,
    body: &[u8],
    headers: &HashMap<String, String>,
) -> bool {
    let mut record_headers = OwnedHeaders::new();
    for (k, v) in headers {
        record_headers = record_headers.insert(Header { key: k.as_str(), value: Some(v.as_str()) });
    }
    let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(body).headers(record_headers);
    if let Some(key) = key {
        record = record.key(key);
    }
    producer.send(record, Duration::from_secs(5)).await.is_ok()
}
