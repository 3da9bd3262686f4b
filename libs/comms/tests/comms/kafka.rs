//! The Kafka broker against a real Kafka-protocol broker (tansu; start it
//! with `just kafka`): the shared conformance suite, then what Kafka does
//! differently (partitions, groups, ordering by key).
//!
//! Without a broker these tests pass vacuously and say so, unless `CI` is
//! set: then a missing broker fails them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use comms::messaging::kafka::{KafkaBroker, KafkaConfig};
use comms::messaging::{Destination, Event, MessageBroker, RelayConfig, Subscription};
use futures::future::BoxFuture;
use testkit::broker_conformance::{self as suite, BrokerFactory, Ping, Recorder, ping};

use crate::outbox::Shop;

pub struct KafkaFactory {
    id: String,
}

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

/// A factory if a broker answers; `None` (test skipped) otherwise, except
/// under CI, where a missing broker is a failure.
pub async fn factory() -> Option<KafkaFactory> {
    testkit::otlp();
    comms::prometheus::install();
    let reachable = tokio::net::TcpStream::connect(brokers()).await.is_ok();
    if !reachable {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no Kafka broker answers at {}: run `just kafka`",
            brokers()
        );
        eprintln!("SKIPPED: no Kafka broker at {} (run `just kafka`)", brokers());
        return None;
    }
    Some(KafkaFactory { id: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned() })
}

impl KafkaFactory {
    /// `name` as this factory's brokers call the topic or group.
    pub fn prefixed(&self, name: &str) -> String {
        format!("t{}.{name}", self.id)
    }

    pub async fn connect(&self) -> Arc<KafkaBroker> {
        let mut config = KafkaConfig::new(brokers(), format!("test-{}", self.id));
        config.prefix = self.prefixed("");
        KafkaBroker::connect(config).await.expect("Kafka broker")
    }
}

impl BrokerFactory for KafkaFactory {
    fn broker(&self) -> BoxFuture<'_, Arc<dyn MessageBroker>> {
        Box::pin(async move { self.connect().await as Arc<dyn MessageBroker> })
    }

    fn name(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.id)
    }
}

macro_rules! conformance {
    ($($test:ident => $case:path),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            if let Some(factory) = factory().await {
                $case(&factory).await;
                println!("KAFKA TEST RAN: {}", stringify!($test));
            }
        }
    )*};
}

conformance! {
    kafka_conformance_events_fan_out => suite::events_fan_out_to_every_subscribed_service,
    kafka_conformance_replicas_compete => suite::replicas_of_a_service_compete_for_its_events,
    kafka_conformance_task_queue => suite::task_queue_workers_share_tasks_and_dead_letter_failures,
    kafka_conformance_dead_letter_after_n_attempts => suite::a_failing_message_is_dead_lettered_after_exactly_n_attempts,
    kafka_conformance_malformed_messages => suite::malformed_messages_are_dead_lettered_with_a_reason,
    kafka_conformance_panics => suite::a_handler_that_panics_fails_its_message_not_its_consumer,
    kafka_conformance_unknown_topic_is_refused => suite::an_event_with_no_subscriber_is_reported_unroutable,
    kafka_conformance_unsubscribe =>
        suite::unsubscribing_lets_a_running_handler_finish_and_leaves_the_rest_to_the_next_subscriber,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_events_with_one_subject_are_handled_in_publish_order() {
    let Some(factory) = factory().await else { return };
    let broker = factory.connect().await;
    let seen = Recorder::new();
    broker
        .subscribe(
            Subscription::events(&factory.name("ordered"), &[<Ping as comms::messaging::Event>::TYPE]),
            Arc::new(seen.clone()),
        )
        .await
        .unwrap();
    // One subject: one key, one partition, one order.
    let messages: Vec<_> = (0..50)
        .map(|n| {
            let mut message = ping(n, Destination::Event);
            message.subject = Some("order-1".into());
            message
        })
        .collect();
    for outcome in broker.publish(&messages).await {
        outcome.unwrap();
    }
    assert!(seen.wait_for(50, Duration::from_secs(30)).await);
    assert_eq!(seen.pings(), (0..50).collect::<Vec<_>>());
    println!("KAFKA TEST RAN: ordering");
}

// The survivor must pick up the departed member's partitions at their
// committed offsets: records handled but not committed come again (the
// inbox absorbs them), records not yet handled are not skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_group_members_share_partitions_and_a_survivor_takes_over() {
    let Some(factory) = factory().await else { return };
    let group = factory.prefixed(&factory.name("shop"));
    let topic = factory.prefixed(<Ping as comms::messaging::Event>::TYPE);
    let shop = Shop::on(Box::new(factory), "kafka").await;
    let first = shop.consume().await;
    let second = shop.consume().await;
    let relay = shop.relay(shop.factory.broker().await, RelayConfig::default());
    shop.write(0..300).await;
    shop.relay_all(&relay).await;
    assert_eq!(shop.wait_for_effects(300, Duration::from_secs(60)).await, (300, 300));
    let shared = shop.consumer.deliveries.load(Ordering::SeqCst);

    // One member leaves; the other takes over its partitions. The next
    // events are written once it has: tansu's in-memory log (the test
    // broker) answers a fetch from an offset inside a record batch with the
    // batches after it, skipping the rest of that batch, which a consumer
    // resuming mid-batch during a rebalance would hit. A real broker returns
    // the whole batch and the client drops the records before the offset.
    drop(first);
    assert!(group_settles_with_one_member(&group).await, "the survivor holds every partition within 30 s");
    shop.write(300..600).await;
    shop.relay_all(&relay).await;
    let (rows, distinct) = shop.wait_for_effects(600, Duration::from_secs(90)).await;
    if (rows, distinct) != (600, 600) {
        let offsets = group_offsets(&group, &topic);
        panic!(
            "nothing lost, nothing applied twice: {rows} rows, {distinct} distinct; {}; {offsets}",
            shop.missing(600).await
        );
    }
    println!("KAFKA TEST RAN: group takeover ({shared} deliveries before the leave)");
    drop(second);
}

/// Waits (30 s at most) until the broker reports `group` stable with one
/// member, that is, the rebalance after a leave is over.
async fn group_settles_with_one_member(group: &str) -> bool {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let reader: BaseConsumer = rdkafka::ClientConfig::new().set("bootstrap.servers", brokers()).create().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let settled = reader
            .fetch_group_list(Some(group), Duration::from_secs(5))
            .is_ok_and(|list| list.groups().first().is_some_and(|g| g.members().len() == 1 && g.state() == "Stable"));
        if settled {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// Per partition of `topic`: `group`'s committed offset and the log's end.
/// Tells a stuck consumer (committed < end) from records the log never got.
fn group_offsets(group: &str, topic: &str) -> String {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let reader: BaseConsumer =
        match rdkafka::ClientConfig::new().set("bootstrap.servers", brokers()).set("group.id", group).create() {
            Ok(reader) => reader,
            Err(error) => return format!("offsets unavailable: {error}"),
        };
    let mut partitions = rdkafka::TopicPartitionList::new();
    for partition in 0..3 {
        partitions.add_partition(topic, partition);
    }
    let committed = reader.committed_offsets(partitions, Duration::from_secs(5));
    (0..3)
        .map(|partition| {
            let end = reader.fetch_watermarks(topic, partition, Duration::from_secs(5)).map(|(_, high)| high);
            let at = committed.as_ref().ok().and_then(|c| c.find_partition(topic, partition)).map(|e| e.offset());
            format!("partition {partition}: committed {at:?}, end {end:?}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_outbox_events_reach_a_typed_subscriber_once_across_a_relay_crash() {
    let Some(factory) = factory().await else { return };
    let shop = Shop::on(Box::new(factory), "kafka").await;
    let _consumer = shop.consume().await;
    shop.write(0..20).await;
    let broker = shop.factory.broker().await;
    let crashing = shop.relay(
        broker.clone(),
        RelayConfig { crash_at: Some(comms::messaging::CrashPoint::AfterConfirm), ..RelayConfig::default() },
    );
    assert!(crashing.publish_batch().await.is_err(), "killed after the acknowledgement, before marking");
    // The restarted relay publishes them again (retrying, as a relay does,
    // if the broker is slow to acknowledge on a loaded machine).
    let shutdown = comms::Shutdown::new();
    let config = RelayConfig { poll_interval: Duration::from_millis(200), ..RelayConfig::default() };
    let relay = tokio::spawn(shop.relay(broker, config).run(shutdown.clone()));
    assert_eq!(shop.wait_for_effects(20, Duration::from_secs(60)).await, (20, 20), "each effect exactly once");
    shutdown.trigger();
    relay.await.unwrap();
    assert_eq!(shop.unpublished().await, 0);
    println!("KAFKA TEST RAN: outbox across a relay crash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_trace_context_travels_in_record_headers() {
    use opentelemetry::trace::TraceContextExt;
    use tracing::Instrument;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let Some(factory) = factory().await else { return };
    let otlp = testkit::otlp();
    let shop = Shop::on(Box::new(factory), "kafka").await;
    let _consumer = shop.consume().await;
    let request = tracing::info_span!("kafka request");
    let trace_id = request.context().span().span_context().trace_id().to_string();
    async { shop.write(0..1).await }.instrument(request).await;
    shop.relay(shop.factory.broker().await, RelayConfig::default()).publish_batch().await.unwrap();
    shop.wait_for_effects(1, Duration::from_secs(30)).await;
    let spans = otlp.wait_for(&trace_id, |s| s.iter().any(|s| s.name.starts_with("process "))).await;
    let consumer =
        spans.iter().find(|s| s.name.starts_with("process ")).expect("a consumer span in the request's trace");
    assert_eq!(consumer.attribute("messaging.system"), Some("kafka"));
    println!("KAFKA TEST RAN: trace through headers");
}

#[tokio::test]
async fn the_broker_is_chosen_by_configuration_alone() {
    use comms::messaging::settings::BrokerSettings;
    let rabbit = BrokerSettings { broker: "rabbitmq".into(), ..BrokerSettings::default() };
    assert_eq!(rabbit.connect("settings-test").await.unwrap().1, "rabbitmq");
    let wrong = BrokerSettings { broker: "carrier-pigeon".into(), ..BrokerSettings::default() };
    assert!(wrong.connect("settings-test").await.is_err());
    let Some(_) = factory().await else { return };
    let kafka = BrokerSettings { broker: "kafka".into(), kafka_brokers: brokers(), ..BrokerSettings::default() };
    let (broker, system) = kafka.connect("settings-test").await.unwrap();
    assert_eq!(system, "kafka");
    // Same trait, same meaning: a type nobody subscribed to is refused.
    let mut message = ping(1, Destination::Event);
    message.event_type = format!("unsubscribed.{}", uuid::Uuid::new_v4().simple());
    assert!(matches!(broker.publish(&[message]).await[0], Err(comms::messaging::PublishError::Unroutable(_))));
}

/// A tansu of the test's own on a free port, in memory, so the test can
/// freeze it (SIGSTOP) without touching the shared one; killed on drop.
struct PrivateBroker {
    child: std::process::Child,
    address: String,
}

impl PrivateBroker {
    /// `None` where tansu is not installed (and `CI` is unset).
    async fn start() -> Option<Self> {
        let home = std::env::var("HOME").unwrap_or_default();
        let installed = [format!("{home}/.cargo/bin/tansu"), "tansu".to_owned()];
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let child = installed.iter().find_map(|program| {
            std::process::Command::new(program)
                .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
                .args(["--storage-engine", "memory://tansu/"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .ok()
        });
        let Some(child) = child else {
            assert!(std::env::var_os("CI").is_none(), "CI is set but tansu is not installed: run `just kafka`");
            eprintln!("SKIPPED: tansu is not installed (run `just kafka`)");
            return None;
        };
        let broker = Self { child, address };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(&broker.address).await.is_ok() {
                return Some(broker);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the test's own tansu did not listen on {}", broker.address);
    }

    fn signal(&self, signal: &str) {
        let status =
            std::process::Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_for_state(broker: &KafkaBroker, group: &str, consuming: bool, within: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let status = broker.consumption().snapshot().get(group).cloned();
        if let Some(status) = status.filter(|s| s.consuming == consuming) {
            return status.cause;
        }
        assert!(tokio::time::Instant::now() < deadline, "{group} did not turn consuming={consuming} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_a_frozen_broker_is_reported_and_consuming_resumes_when_it_answers() {
    testkit::otlp();
    let Some(tansu) = PrivateBroker::start().await else { return };
    let mut config = KafkaConfig::new(tansu.address.clone(), "test-frozen");
    config.prefix = "frozen.".into();
    let broker = KafkaBroker::connect(config).await.expect("the test's own tansu");
    let seen = Recorder::new();
    broker.subscribe(Subscription::events("watcher", &[Ping::TYPE]), Arc::new(seen.clone())).await.unwrap();
    let group = "frozen.watcher";
    wait_for_state(&broker, group, true, Duration::from_secs(5)).await;

    tansu.signal("-STOP");
    let cause = wait_for_state(&broker, group, false, Duration::from_secs(20)).await;
    assert!(cause.is_some_and(|c| c.contains("does not answer")));

    tansu.signal("-CONT");
    wait_for_state(&broker, group, true, Duration::from_secs(30)).await;
    for outcome in broker.publish(&[ping(7, Destination::Event)]).await {
        outcome.expect("published after the broker came back");
    }
    assert!(seen.wait_for(1, Duration::from_secs(30)).await, "handled after the broker came back");
    assert_eq!(seen.pings(), vec![7]);
    println!("KAFKA TEST RAN: kafka_a_frozen_broker_is_reported_and_consuming_resumes_when_it_answers");
}
