//! The RabbitMQ broker against the shared conformance suite. What only
//! RabbitMQ has (AMQP properties on the wire, connection supervision) is
//! tested in `outbox.rs`, with the service that exercises it.

use std::sync::Arc;
use std::time::Duration;

use comms::messaging::MessageBroker;
use comms::messaging::rabbitmq::{RabbitBroker, RabbitConfig};
use futures::future::BoxFuture;
use testkit::broker_conformance as suite;

pub const AMQP_URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Messages ready in `queue`, and consumers on it, as the broker counts
/// them (a passive declare: the queue must exist).
pub async fn queue_counts(queue: &str) -> (u32, u32) {
    use lapin::options::QueueDeclareOptions;
    let connection = lapin::Connection::connect(AMQP_URI, lapin::ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let options = QueueDeclareOptions { passive: true, ..Default::default() };
    let declared = channel.queue_declare(queue.into(), options, lapin::types::FieldTable::default()).await.unwrap();
    let counts = (declared.message_count(), declared.consumer_count());
    let _ = connection.close(200, "done".into()).await;
    counts
}

/// Brokers on an exchange of the test's own; queues expire after a minute
/// unused, so test runs leave nothing behind.
pub struct RabbitFactory {
    id: String,
    pub uri: String,
    /// Unused queues are deleted after this (a minute). A retry queue has
    /// no consumer, so it counts as unused from its declaration: a test
    /// whose messages wait longer than this in one needs a longer expiry.
    pub queue_expiry: Duration,
}

impl RabbitFactory {
    pub fn new() -> Self {
        Self::with_uri(AMQP_URI)
    }

    pub fn with_uri(uri: &str) -> Self {
        // Messaging creates spans; install the process's subscriber before
        // any test does, rather than while another test is mid-span.
        testkit::otlp();
        comms::prometheus::install();
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        Self { id, uri: uri.to_owned(), queue_expiry: Duration::from_secs(60) }
    }

    pub fn config(&self) -> RabbitConfig {
        let mut config = RabbitConfig::new(self.uri.clone(), format!("test-{}", self.id));
        config.exchange = format!("test-events-{}", self.id);
        config.queue_expiry = Some(self.queue_expiry);
        config.exchange_auto_delete = true;
        config
    }

    pub async fn connect(&self) -> Arc<RabbitBroker> {
        RabbitBroker::connect(self.config()).await.expect("RabbitMQ on 127.0.0.1:5672")
    }
}

impl suite::BrokerFactory for RabbitFactory {
    fn broker(&self) -> BoxFuture<'_, Arc<dyn MessageBroker>> {
        Box::pin(async move { self.connect().await as Arc<dyn MessageBroker> })
    }

    fn name(&self, prefix: &str) -> String {
        format!("test-{prefix}-{}", self.id)
    }
}

#[tokio::test]
async fn conformance_events_fan_out() {
    suite::events_fan_out_to_every_subscribed_service(&RabbitFactory::new()).await;
}

#[tokio::test]
async fn conformance_replicas_compete() {
    suite::replicas_of_a_service_compete_for_its_events(&RabbitFactory::new()).await;
}

#[tokio::test]
async fn conformance_task_queue() {
    suite::task_queue_workers_share_tasks_and_dead_letter_failures(&RabbitFactory::new()).await;
}

#[tokio::test]
async fn conformance_dead_letter_after_n_attempts() {
    suite::a_failing_message_is_dead_lettered_after_exactly_n_attempts(&RabbitFactory::new()).await;
}

#[tokio::test]
async fn conformance_malformed_messages() {
    suite::malformed_messages_are_dead_lettered_with_a_reason(&RabbitFactory::new()).await;
}

#[tokio::test]
async fn conformance_unsubscribe() {
    suite::unsubscribing_lets_a_running_handler_finish_and_leaves_the_rest_to_the_next_subscriber(&RabbitFactory::new())
        .await;
}

#[tokio::test]
async fn conformance_unroutable() {
    suite::an_event_with_no_subscriber_is_reported_unroutable(&RabbitFactory::new()).await;
}
