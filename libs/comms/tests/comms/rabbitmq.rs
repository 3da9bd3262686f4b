//! The RabbitMQ broker against the shared conformance suite, and what only
//! its queues do: the delivery limit's dead-lettering, and replacing a
//! queue an earlier release declared with other arguments. AMQP properties
//! on the wire and connection supervision are tested in `outbox.rs`, with
//! the service that exercises them.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use comms::messaging::rabbitmq::{RabbitBroker, RabbitConfig};
use comms::messaging::{Delivery, Destination, Handler, HandlerError, MessageBroker, OutgoingMessage, Subscription};
use futures::StreamExt;
use futures::future::BoxFuture;
use lapin::ExchangeKind;
use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
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
async fn conformance_panics() {
    suite::a_handler_that_panics_fails_its_message_not_its_consumer(&RabbitFactory::new()).await;
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

/// A message of `event_type` with `body`, as a service's outbox sends one.
fn message(event_type: &str, body: &str) -> OutgoingMessage {
    OutgoingMessage {
        destination: Destination::Event,
        id: uuid::Uuid::now_v7(),
        event_type: event_type.to_owned(),
        subject: None,
        correlation_id: "dead-letter-test".into(),
        source: "test".into(),
        schema_version: 1,
        timestamp: chrono::Utc::now(),
        body: body.as_bytes().to_vec(),
        headers: Default::default(),
    }
}

/// Records what it is given.
#[derive(Default)]
struct Counting {
    calls: AtomicU32,
    bodies: Mutex<Vec<Vec<u8>>>,
}

impl Handler for Counting {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.bodies.lock().unwrap().push(delivery.body.clone());
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

/// Waits up to 30 s for `queue` to hold `ready` messages.
async fn wait_until_ready(queue: &str, ready: u32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (now, _) = queue_counts(queue).await;
        if now == ready {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{queue} holds {now} messages, not {ready}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn raw_channel() -> (lapin::Connection, lapin::Channel) {
    let connection = lapin::Connection::connect(AMQP_URI, lapin::ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

#[tokio::test]
async fn a_message_requeued_forever_is_dead_lettered_at_the_delivery_limit_with_its_reason() {
    let factory = RabbitFactory::new();
    let mut config = factory.config();
    // Set explicitly, as BROKER_DELIVERY_LIMIT sets it: RabbitMQ 3.10 has no
    // default limit and 4.x's is 20.
    config.delivery_limit = 3;
    let broker = RabbitBroker::connect(config).await.unwrap();
    let name = suite::BrokerFactory::name(&factory, "requeued");
    let queue = format!("{name}.events");
    // Declared as a service declares it; then a client that puts every
    // message back (a consumer killed mid-message again and again does the
    // same) takes from it.
    let subscribed = broker.subscribe(Subscription::events(&name, &["test.requeued"]), Arc::new(Counting::default()));
    broker.unsubscribe(subscribed.await.unwrap()).await.unwrap();
    let (connection, channel) = raw_channel().await;
    let mut deliveries = channel
        .basic_consume(queue.as_str().into(), "requeues-forever".into(), Default::default(), FieldTable::default())
        .await
        .unwrap();
    let deliveries_seen = Arc::new(AtomicU32::new(0));
    let seen = deliveries_seen.clone();
    let requeuer = tokio::spawn(async move {
        while let Some(Ok(delivery)) = deliveries.next().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let requeue = lapin::options::BasicNackOptions { requeue: true, ..Default::default() };
            delivery.nack(requeue).await.unwrap();
        }
    });

    let sent = message("test.requeued", "{}");
    for outcome in broker.publish(std::slice::from_ref(&sent)).await {
        outcome.unwrap();
    }
    let dead_letters = format!("{name}.dlq");
    wait_until_ready(&dead_letters, 1).await;
    let delivered = deliveries_seen.load(Ordering::SeqCst);
    assert!((3..=4).contains(&delivered), "delivered {delivered} times under a limit of 3");
    requeuer.abort();

    let got = channel
        .basic_get(dead_letters.as_str().into(), lapin::options::BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the dead letter");
    let properties = &got.delivery.properties;
    assert_eq!(properties.message_id().as_ref().map(|id| id.to_string()), Some(sent.id.to_string()));
    let reason = properties.headers().as_ref().and_then(|h| h.inner().get("x-first-death-reason").cloned());
    assert_eq!(reason, Some(AMQPValue::LongString("delivery_limit".into())), "{properties:?}");
    let _ = connection.close(200, "done".into()).await;
    assert_eq!(queue_counts(&queue).await.0, 0, "nothing left behind in the main queue");
}

#[tokio::test]
async fn a_queue_declared_with_earlier_arguments_is_replaced_and_its_message_consumed() {
    let factory = RabbitFactory::new();
    let config = factory.config();
    let name = suite::BrokerFactory::name(&factory, "earlier");
    let queue = format!("{name}.events");
    // The queue as an earlier release declared it: quorum, with no
    // dead-letter target, bound to its type, holding a message.
    let (connection, channel) = raw_channel().await;
    let exchange = ExchangeDeclareOptions { durable: true, auto_delete: true, ..Default::default() };
    channel
        .exchange_declare(config.exchange.as_str().into(), ExchangeKind::Topic, exchange, FieldTable::default())
        .await
        .unwrap();
    let mut earlier = FieldTable::default();
    earlier.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    earlier.insert("x-expires".into(), AMQPValue::LongInt(60_000));
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    channel.queue_declare(queue.as_str().into(), durable, earlier.clone()).await.unwrap();
    channel
        .queue_bind(
            queue.as_str().into(),
            config.exchange.as_str().into(),
            "test.earlier".into(),
            Default::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let publisher = RabbitBroker::connect(config.clone()).await.unwrap();
    for outcome in publisher.publish(&[message("test.earlier", "waiting since the earlier release")]).await {
        outcome.unwrap();
    }
    assert_eq!(queue_counts(&queue).await.0, 1);

    let broker = RabbitBroker::connect(config).await.unwrap();
    let handler = Arc::new(Counting::default());
    broker
        .subscribe(Subscription::events(&name, &["test.earlier"]), handler.clone())
        .await
        .expect("subscribing over the earlier queue: no 406");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while handler.calls.load(Ordering::SeqCst) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the waiting message was never consumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*handler.bodies.lock().unwrap(), vec![b"waiting since the earlier release".to_vec()]);

    // The queue was declared again with the new arguments: the earlier
    // ones are now the inequivalent ones, and no holding queue is left.
    let refused = channel.queue_declare(queue.as_str().into(), durable, earlier).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("inequivalent arg")));
    let probe = connection.create_channel().await.unwrap();
    let passive = QueueDeclareOptions { passive: true, ..Default::default() };
    let holding = probe.queue_declare(format!("{queue}.moving").as_str().into(), passive, FieldTable::default()).await;
    assert!(holding.is_err(), "the holding queue is gone");
    let _ = connection.close(200, "done".into()).await;
}
