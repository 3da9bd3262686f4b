//! The outbox, relay and inbox end to end, with a small service defined
//! here: it writes `Ping` events through its outbox, and its consumer
//! applies each one as a row in `effects`, using the inbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use comms::Shutdown;
use comms::messaging::{
    CrashPoint, Delivery, Envelope, Handler, HandlerError, MessageBroker, OutboxRelay, RelayConfig, Subscription,
    inbox, outbox,
};
use futures::future::BoxFuture;
use sqlx::PgPool;
use testkit::broker_conformance::{BrokerFactory, Ping};
use testkit::{FaultProxy, TestDatabase};

use crate::rabbitmq::RabbitFactory;

pub struct Shop {
    pub db: TestDatabase,
    pub factory: Box<dyn BrokerFactory>,
    pub system: &'static str,
    pub consumer: Arc<Effects>,
    pub service: String,
}

/// The consumer: one `effects` row per event, exactly once.
pub struct Effects {
    pool: PgPool,
    pub deliveries: AtomicUsize,
    pub duplicates: AtomicUsize,
    /// Hang (never return) after committing the effect of this event.
    pub hang_after_commit: std::sync::Mutex<Option<u32>>,
}

impl Handler for Effects {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.deliveries.fetch_add(1, Ordering::SeqCst);
            let envelope = Envelope::from_bytes(&delivery.body).map_err(|e| HandlerError::Permanent(e.to_string()))?;
            let ping: Ping = envelope.decode().map_err(|e| HandlerError::Permanent(e.to_string()))?;
            let transient = |e: sqlx::Error| HandlerError::Transient(e.to_string());
            let mut tx = self.pool.begin().await.map_err(transient)?;
            if !inbox::first_delivery(&mut tx, "effects", envelope.id).await.map_err(transient)? {
                self.duplicates.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            sqlx::query("INSERT INTO effects (event_id, n) VALUES ($1, $2)")
                .bind(envelope.id)
                .bind(i32::try_from(ping.n).unwrap())
                .execute(&mut *tx)
                .await
                .map_err(transient)?;
            tx.commit().await.map_err(transient)?;
            if *self.hang_after_commit.lock().unwrap() == Some(ping.n) {
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    }
}

impl Shop {
    pub async fn new(factory: RabbitFactory) -> Self {
        Self::on(Box::new(factory), "rabbitmq").await
    }

    pub async fn on(factory: Box<dyn BrokerFactory>, system: &'static str) -> Self {
        let db = TestDatabase::create_empty().await.unwrap();
        outbox::install(&db.pool).await.unwrap();
        sqlx::raw_sql("CREATE TABLE effects (event_id uuid NOT NULL, n integer NOT NULL)")
            .execute(&db.pool)
            .await
            .unwrap();
        let consumer = Arc::new(Effects {
            pool: db.pool.clone(),
            deliveries: AtomicUsize::new(0),
            duplicates: AtomicUsize::new(0),
            hang_after_commit: std::sync::Mutex::new(None),
        });
        let service = factory.name("shop");
        Self { db, factory, system, consumer, service }
    }

    pub fn subscription(&self) -> Subscription {
        let mut subscription = Subscription::events(&self.service, &["test.ping"]);
        subscription.retry_delays =
            vec![Duration::from_millis(100), Duration::from_millis(200), Duration::from_millis(400)];
        subscription
    }

    /// Starts consuming on a broker of its own, returned to keep it alive.
    pub async fn consume(&self) -> Arc<dyn MessageBroker> {
        let broker = self.factory.broker().await;
        broker.subscribe(self.subscription(), self.consumer.clone()).await.unwrap();
        broker
    }

    /// Commits one event per number, each in its own transaction.
    pub async fn write(&self, numbers: std::ops::Range<u32>) {
        for n in numbers {
            let mut tx = self.db.pool.begin().await.unwrap();
            outbox::enqueue(&mut tx, &Envelope::new("shop", &Ping { n }, None)).await.unwrap();
            tx.commit().await.unwrap();
        }
    }

    pub fn relay(&self, broker: Arc<dyn MessageBroker>, config: RelayConfig) -> OutboxRelay {
        OutboxRelay::new(self.db.pool.clone(), broker, self.system, config)
    }

    /// Runs `relay` until the outbox is empty (30 s at most), including rows
    /// waiting out a publish failure's backoff.
    pub async fn relay_all(&self, relay: &OutboxRelay) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.unpublished().await > 0 && tokio::time::Instant::now() < deadline {
            sqlx::query("UPDATE comms_outbox SET next_attempt_at = now() WHERE published_at IS NULL")
                .execute(&self.db.pool)
                .await
                .unwrap();
            relay.publish_batch().await.unwrap();
        }
        let errors: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT last_error FROM comms_outbox WHERE published_at IS NULL AND quarantined_at IS NULL",
        )
        .fetch_all(&self.db.pool)
        .await
        .unwrap();
        assert!(errors.is_empty(), "rows left unpublished: {errors:?}");
    }

    pub async fn effects(&self) -> (i64, i64) {
        sqlx::query_as("SELECT count(*), count(DISTINCT event_id) FROM effects").fetch_one(&self.db.pool).await.unwrap()
    }

    pub async fn unpublished(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM comms_outbox WHERE published_at IS NULL AND quarantined_at IS NULL")
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// The numbers below `below` with no effect, and how often the
    /// consumer was called: what a failed "nothing lost" check prints.
    pub async fn missing(&self, below: i32) -> String {
        let missing: Vec<i32> = sqlx::query_scalar(
            "SELECT n FROM generate_series(0, $1 - 1) AS n WHERE n NOT IN (SELECT n FROM effects) ORDER BY n",
        )
        .bind(below)
        .fetch_all(&self.db.pool)
        .await
        .unwrap();
        format!(
            "missing {missing:?}; {} deliveries, {} duplicates",
            self.consumer.deliveries.load(Ordering::SeqCst),
            self.consumer.duplicates.load(Ordering::SeqCst)
        )
    }

    /// Attempts counted on unpublished rows, summed.
    pub async fn attempts(&self) -> i64 {
        sqlx::query_scalar("SELECT coalesce(sum(attempts), 0)::bigint FROM comms_outbox WHERE published_at IS NULL")
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// Connections to this test's database idle inside a transaction for
    /// longer than `longer_than`.
    pub async fn idle_in_transaction(&self, longer_than: Duration) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
             AND state = 'idle in transaction' AND now() - state_change > make_interval(secs => $1)",
        )
        .bind(longer_than.as_secs_f64())
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }

    /// Waits up to `limit` for `n` distinct effects.
    pub async fn wait_for_effects(&self, n: i64, limit: Duration) -> (i64, i64) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let effects = self.effects().await;
            if effects.1 >= n || tokio::time::Instant::now() > deadline {
                return effects;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutting_the_broker_link_mid_load_loses_nothing_and_applies_each_effect_once() {
    let proxy = FaultProxy::start("127.0.0.1:5672".parse().unwrap()).await.unwrap();
    let uri = format!("amqp://guest:guest@{}/%2f", proxy.addr());
    let shop = Shop::new(RabbitFactory::with_uri(&uri)).await;
    let _consumer = shop.consume().await;
    let publisher = shop.factory.broker().await;
    let shutdown = Shutdown::new();
    let config = RelayConfig { poll_interval: Duration::from_millis(200), ..RelayConfig::default() };
    let relay = tokio::spawn(shop.relay(publisher.clone(), config).run(shutdown.clone()));

    let total = 3000;
    let writers: Vec<_> = (0..3u32)
        .map(|w| {
            let pool = shop.db.pool.clone();
            tokio::spawn(async move {
                for n in (w * 1000)..((w + 1) * 1000) {
                    let mut tx = pool.begin().await.unwrap();
                    outbox::enqueue(&mut tx, &Envelope::new("shop", &Ping { n }, None)).await.unwrap();
                    tx.commit().await.unwrap();
                }
            })
        })
        .collect();
    // Break the link twice while events flow: a cut, then an outage.
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.cut_connections();
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.refuse_connections();
    proxy.cut_connections();
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.restore();
    for writer in writers {
        writer.await.unwrap();
    }

    let (rows, distinct) = shop.wait_for_effects(total, Duration::from_secs(90)).await;
    shutdown.trigger();
    relay.await.unwrap();
    assert_eq!(distinct, total, "every committed event was delivered");
    assert_eq!(rows, total, "and applied exactly once");
    assert_eq!(shop.unpublished().await, 0, "publishing resumed: the outbox is empty");
    // Every delivery was either the first (an effect) or a duplicate the
    // inbox absorbed; give handlers still running a moment to finish.
    let accounted = || {
        shop.consumer.deliveries.load(Ordering::SeqCst)
            == total as usize + shop.consumer.duplicates.load(Ordering::SeqCst)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !accounted() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("duplicate deliveries absorbed by the inbox: {}", shop.consumer.duplicates.load(Ordering::SeqCst));
    assert!(accounted(), "every delivery was an effect or an absorbed duplicate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_share_one_outbox_and_never_publish_a_row_twice() {
    let shop = Shop::new(RabbitFactory::new()).await;
    let _consumer = shop.consume().await;
    let total = 2000;
    shop.write(0..total as u32).await;

    let brokers = [shop.factory.broker().await, shop.factory.broker().await];
    let relays: Vec<_> = brokers
        .into_iter()
        .map(|broker| {
            let relay = shop.relay(broker, RelayConfig { batch_size: 50, ..RelayConfig::default() });
            tokio::spawn(async move {
                let mut claimed = 0;
                let mut idle = 0;
                while idle < 3 {
                    match relay.publish_batch().await.unwrap() {
                        0 => {
                            idle += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        n => claimed += n,
                    }
                }
                claimed
            })
        })
        .collect();
    let mut shares = Vec::new();
    for relay in relays {
        shares.push(relay.await.unwrap());
    }
    let (rows, distinct) = shop.wait_for_effects(total, Duration::from_secs(60)).await;
    assert_eq!((rows, distinct), (total, total));
    assert_eq!(shares.iter().sum::<usize>(), total as usize, "each row claimed by exactly one relay");
    assert!(shares.iter().all(|s| *s > 0), "both relays did part of the work: {shares:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shop.consumer.duplicates.load(Ordering::SeqCst), 0, "no row was published twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_wakes_the_relay_long_before_its_one_minute_poll() {
    let shop = Shop::new(RabbitFactory::new()).await;
    let _consumer = shop.consume().await;
    let shutdown = Shutdown::new();
    let config = RelayConfig { poll_interval: Duration::from_secs(60), ..RelayConfig::default() };
    let relay = tokio::spawn(shop.relay(shop.factory.broker().await, config).run(shutdown.clone()));
    // Let the relay finish its first drain and start waiting.
    tokio::time::sleep(Duration::from_millis(500)).await;

    shop.write(0..1).await;
    let (_, distinct) = shop.wait_for_effects(1, Duration::from_secs(10)).await;
    assert_eq!(distinct, 1, "consumed within seconds: only NOTIFY could have woken the relay");
    shutdown.trigger();
    relay.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_at_either_dangerous_point_loses_nothing() {
    let shop = Shop::new(RabbitFactory::new()).await;
    let _consumer = shop.consume().await;
    let broker = shop.factory.broker().await;

    // Killed after claiming, before publishing: the claim rolls back.
    shop.write(0..10).await;
    let crashing =
        shop.relay(broker.clone(), RelayConfig { crash_at: Some(CrashPoint::AfterClaim), ..RelayConfig::default() });
    assert!(crashing.publish_batch().await.is_err());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(shop.consumer.deliveries.load(Ordering::SeqCst), 0, "nothing was published");
    assert_eq!(shop.unpublished().await, 10);
    shop.relay(broker.clone(), RelayConfig::default()).publish_batch().await.unwrap();
    assert_eq!(shop.wait_for_effects(10, Duration::from_secs(20)).await, (10, 10));

    // Killed after the confirm, before marking: published twice at most,
    // and the inbox absorbs the second copy.
    shop.write(10..20).await;
    let crashing =
        shop.relay(broker.clone(), RelayConfig { crash_at: Some(CrashPoint::AfterConfirm), ..RelayConfig::default() });
    assert!(crashing.publish_batch().await.is_err());
    assert_eq!(shop.unpublished().await, 10, "confirmed but not marked");
    shop.relay(broker, RelayConfig::default()).publish_batch().await.unwrap();
    assert_eq!(shop.unpublished().await, 0);
    assert_eq!(shop.wait_for_effects(20, Duration::from_secs(20)).await, (20, 20), "each effect once");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    // A delivery is counted when its handler starts, a duplicate when the
    // inbox has answered: wait for both to settle.
    let settled = || {
        shop.consumer.deliveries.load(Ordering::SeqCst) >= 30 && shop.consumer.duplicates.load(Ordering::SeqCst) >= 10
    };
    while !settled() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shop.consumer.deliveries.load(Ordering::SeqCst), 30, "the second batch went out twice");
    assert_eq!(shop.consumer.duplicates.load(Ordering::SeqCst), 10, "and the inbox absorbed it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_dies_before_acking_gets_the_message_again_and_the_effect_happens_once() {
    let shop = Shop::new(RabbitFactory::new()).await;
    *shop.consumer.hang_after_commit.lock().unwrap() = Some(7);
    let dying = shop.consume().await;
    shop.write(7..8).await;
    shop.relay(shop.factory.broker().await, RelayConfig::default()).publish_batch().await.unwrap();
    assert_eq!(shop.wait_for_effects(1, Duration::from_secs(10)).await, (1, 1), "the effect committed");

    // The process dies holding the unacknowledged message.
    *shop.consumer.hang_after_commit.lock().unwrap() = None;
    drop(dying);
    let _successor = shop.consume().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while shop.consumer.duplicates.load(Ordering::SeqCst) == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shop.consumer.deliveries.load(Ordering::SeqCst), 2, "redelivered");
    assert_eq!(shop.consumer.duplicates.load(Ordering::SeqCst), 1);
    assert_eq!(shop.effects().await, (1, 1), "the effect happened once");
}

#[tokio::test]
async fn an_event_nobody_is_bound_to_stays_in_the_outbox_and_is_reported() {
    let shop = Shop::new(RabbitFactory::new()).await;
    shop.write(0..1).await;
    let relay = shop.relay(shop.factory.broker().await, RelayConfig::default());
    assert_eq!(relay.publish_batch().await.unwrap(), 1);
    let (published, attempts, error): (Option<chrono::DateTime<chrono::Utc>>, i32, Option<String>) =
        sqlx::query_as("SELECT published_at, attempts, last_error FROM comms_outbox")
            .fetch_one(&shop.db.pool)
            .await
            .unwrap();
    assert_eq!(published, None, "not marked published");
    assert_eq!(attempts, 1);
    assert!(error.unwrap().contains("unroutable"), "the reason is recorded");
    let metrics = comms::prometheus::install().render();
    assert!(metrics.contains(r#"outbox_unroutable_total{event_type="test.ping"}"#), "and counted");
}

#[tokio::test]
async fn the_trace_of_the_request_that_wrote_the_event_reaches_the_consumer() {
    use opentelemetry::trace::TraceContextExt;
    use tracing::Instrument;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let otlp = testkit::otlp();
    let shop = Shop::new(RabbitFactory::new()).await;
    let _consumer = shop.consume().await;
    let request = tracing::info_span!("place order request");
    let trace_id = request.context().span().span_context().trace_id().to_string();
    async {
        let mut tx = shop.db.pool.begin().await.unwrap();
        outbox::enqueue(&mut tx, &Envelope::new("shop", &Ping { n: 1 }, None)).await.unwrap();
        tx.commit().await.unwrap();
    }
    .instrument(request)
    .await;
    shop.relay(shop.factory.broker().await, RelayConfig::default()).publish_batch().await.unwrap();
    shop.wait_for_effects(1, Duration::from_secs(10)).await;

    let spans = otlp.wait_for(&trace_id, |s| s.iter().any(|s| s.name.starts_with("process "))).await;
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"place order request"), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("publish ")), "a producer span: {names:?}");
    let consumer = spans.iter().find(|s| s.name.starts_with("process ")).expect("a consumer span in the same trace");
    assert_eq!(consumer.attribute("messaging.system"), Some("rabbitmq"));
    assert_eq!(consumer.attribute("messaging.operation.type"), Some("process"));
}

#[tokio::test]
async fn a_raw_amqp_client_sees_every_property_and_header() {
    use futures::StreamExt;
    use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
    use lapin::types::{AMQPValue, FieldTable};

    let factory = RabbitFactory::new();
    let broker = factory.connect().await; // declares the exchange
    let config = factory.config();
    let connection =
        lapin::Connection::connect(crate::rabbitmq::AMQP_URI, lapin::ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let queue = format!("raw-{}", uuid::Uuid::new_v4().simple());
    let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    channel.queue_declare(queue.as_str().into(), options, FieldTable::default()).await.unwrap();
    channel
        .queue_bind(
            queue.as_str().into(),
            config.exchange.as_str().into(),
            "test.ping".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut deliveries = channel
        .basic_consume(
            queue.as_str().into(),
            "raw".into(),
            BasicConsumeOptions { no_ack: true, ..Default::default() },
            FieldTable::default(),
        )
        .await
        .unwrap();

    let db = TestDatabase::create_empty().await.unwrap();
    outbox::install(&db.pool).await.unwrap();
    let envelope = Envelope::new("shop", &Ping { n: 5 }, None);
    testkit::otlp();
    async {
        let mut tx = db.pool.begin().await.unwrap();
        outbox::enqueue(&mut tx, &envelope).await.unwrap();
        tx.commit().await.unwrap();
    }
    .instrument_in_span()
    .await;
    OutboxRelay::new(db.pool.clone(), broker, "rabbitmq", RelayConfig::default()).publish_batch().await.unwrap();

    let delivery = tokio::time::timeout(Duration::from_secs(10), deliveries.next()).await.unwrap().unwrap().unwrap();
    let p = &delivery.properties;
    assert_eq!(*p.delivery_mode(), Some(2), "persistent");
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), envelope.id.to_string());
    assert_eq!(p.correlation_id().as_ref().unwrap().as_str(), envelope.correlationid);
    assert_eq!(*p.timestamp(), Some(u64::try_from(envelope.time.timestamp()).unwrap()));
    assert_eq!(p.kind().as_ref().unwrap().as_str(), "test.ping");
    assert_eq!(p.content_type().as_ref().unwrap().as_str(), "application/json");
    assert_eq!(p.app_id().as_ref().unwrap().as_str(), "shop");
    let headers: HashMap<String, AMQPValue> =
        p.headers().as_ref().unwrap().inner().iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let text = |key: &str| match headers.get(key) {
        Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        other => panic!("{key}: {other:?}"),
    };
    assert_eq!(text("source"), "shop");
    assert!(matches!(headers.get("schema-version"), Some(AMQPValue::LongInt(1))));
    assert!(matches!(headers.get("x-attempt"), Some(AMQPValue::LongInt(1))));
    assert_eq!(text("traceparent").len(), 55, "W3C traceparent");
    let body = Envelope::from_bytes(&delivery.data).unwrap();
    assert_eq!(body, envelope, "the body is the whole envelope");
}

/// Runs a future inside a fresh span, so the outbox row has a trace context.
trait InSpan: std::future::Future + Sized {
    fn instrument_in_span(self) -> tracing::instrument::Instrumented<Self> {
        tracing::Instrument::instrument(self, tracing::info_span!("request"))
    }
}

impl<F: std::future::Future> InSpan for F {}

#[tokio::test]
async fn pruning_removes_only_rows_past_their_retention_and_never_unpublished_ones() {
    use comms::messaging::retention::{self, Pruned, Retention};

    let db = TestDatabase::create_empty().await.unwrap();
    outbox::install(&db.pool).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO comms_outbox (id, event_type, envelope, created_at, published_at) VALUES
           ('00000000-0000-0000-0000-000000000001', 'test.ping', '{}', now() - interval '9 days', now() - interval '8 days'),
           ('00000000-0000-0000-0000-000000000002', 'test.ping', '{}', now() - interval '2 hours', now() - interval '1 hour'),
           ('00000000-0000-0000-0000-000000000003', 'test.ping', '{}', now() - interval '30 days', NULL);
         INSERT INTO comms_inbox (consumer, event_id, processed_at) VALUES
           ('shop', '00000000-0000-0000-0000-00000000000a', now() - interval '8 days'),
           ('shop', '00000000-0000-0000-0000-00000000000b', now() - interval '1 hour');",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    // Batches of one: the loop must go on until a batch comes back short.
    let retention = Retention { batch: 1, ..Retention::default() };
    assert_eq!(retention::prune(&db.pool, &retention).await.unwrap(), Pruned { outbox: 1, inbox: 1 });
    let outbox_left: Vec<String> =
        sqlx::query_scalar("SELECT id::text FROM comms_outbox ORDER BY id").fetch_all(&db.pool).await.unwrap();
    assert_eq!(
        outbox_left,
        ["00000000-0000-0000-0000-000000000002", "00000000-0000-0000-0000-000000000003"],
        "the recent row stays, and so does the unpublished one, however old"
    );
    let inbox_left: Vec<String> =
        sqlx::query_scalar("SELECT event_id::text FROM comms_inbox").fetch_all(&db.pool).await.unwrap();
    assert_eq!(inbox_left, ["00000000-0000-0000-0000-00000000000b"]);
    assert_eq!(retention::prune(&db.pool, &retention).await.unwrap(), Pruned::default(), "nothing more is due");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_swallows_traffic_times_the_batch_out_and_holds_no_transaction_open() {
    let proxy = FaultProxy::start("127.0.0.1:5672".parse().unwrap()).await.unwrap();
    let shop = Shop::new(RabbitFactory::with_uri(&format!("amqp://guest:guest@{}/%2f", proxy.addr()))).await;
    let _consumer = shop.consume().await;
    let publisher = shop.factory.broker().await;
    proxy.blackhole();
    shop.write(0..20).await;
    let timeout = Duration::from_secs(1);
    let config =
        RelayConfig { poll_interval: Duration::from_millis(200), confirm_timeout: timeout, ..RelayConfig::default() };
    let shutdown = Shutdown::new();
    let relay = tokio::spawn(shop.relay(publisher, config).run(shutdown.clone()));

    // Several timeouts pass; at no point is a claim held much past one.
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(shop.idle_in_transaction(timeout * 2).await, 0, "a claim outlived the confirm timeout");
    }
    assert_eq!(shop.unpublished().await, 20, "nothing was marked without a confirm");
    assert_eq!(shop.attempts().await, 0, "an outage counts no attempt against the rows");

    proxy.restore();
    proxy.cut_connections();
    let (rows, distinct) = shop.wait_for_effects(20, Duration::from_secs(60)).await;
    shutdown.trigger();
    relay.await.unwrap();
    assert_eq!((rows, distinct), (20, 20), "every row went out after the restore: {}", shop.missing(20).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_failed_by_a_broker_cut_counts_no_attempt() {
    let proxy = FaultProxy::start("127.0.0.1:5672".parse().unwrap()).await.unwrap();
    let shop = Shop::new(RabbitFactory::with_uri(&format!("amqp://guest:guest@{}/%2f", proxy.addr()))).await;
    let _consumer = shop.consume().await;
    let publisher = shop.factory.broker().await;
    shop.write(0..10).await;
    proxy.refuse_connections();
    proxy.cut_connections();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let relay = shop.relay(publisher, RelayConfig::default());
    let failed = relay.publish_batch().await;
    assert!(matches!(failed, Err(comms::messaging::RelayError::BrokerUnavailable(_))), "{failed:?}");
    assert_eq!(shop.unpublished().await, 10);
    assert_eq!(shop.attempts().await, 0, "the rows were released as they were");

    proxy.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while shop.unpublished().await > 0 && tokio::time::Instant::now() < deadline {
        let _ = relay.publish_batch().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(shop.wait_for_effects(10, Duration::from_secs(30)).await, (10, 10), "{}", shop.missing(10).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_row_is_quarantined_and_the_rows_behind_it_go_out() {
    let shop = Shop::new(RabbitFactory::new()).await;
    let _consumer = shop.consume().await;
    let bad = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO comms_outbox (id, event_type, envelope, created_at)
         VALUES ($1, 'test.ping', '{\"not\": \"an envelope\"}', now() - interval '1 minute')",
    )
    .bind(bad)
    .execute(&shop.db.pool)
    .await
    .unwrap();
    shop.write(0..200).await;

    let relay = shop.relay(shop.factory.broker().await, RelayConfig::default());
    shop.relay_all(&relay).await;
    assert_eq!(shop.wait_for_effects(200, Duration::from_secs(30)).await, (200, 200), "{}", shop.missing(200).await);
    let quarantined = outbox::quarantined(&shop.db.pool).await.unwrap();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0].id, bad);
    assert!(quarantined[0].reason.as_deref().unwrap_or_default().contains("undecodable"), "{quarantined:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_database_is_cut_for_a_minute_applies_the_event_once_afterwards() {
    // The message waits 60 s in a retry queue declared at the start.
    let mut factory = RabbitFactory::new();
    factory.queue_expiry = Duration::from_secs(300);
    let shop = Shop::new(factory).await;
    // The consumer reaches PostgreSQL through a proxy the test cuts; the
    // outbox and the checks below use the direct pool.
    let server = testkit::db::server_address();
    let pg = FaultProxy::start(server).await.unwrap();
    let url = shop.db.url.replace(&server.to_string(), &pg.addr().to_string());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect(&url)
        .await
        .unwrap();
    let consumer = Arc::new(Effects {
        pool,
        deliveries: AtomicUsize::new(0),
        duplicates: AtomicUsize::new(0),
        hang_after_commit: std::sync::Mutex::new(None),
    });
    let broker = shop.factory.broker().await;
    // The default schedule: no test-sized delays.
    let subscription = Subscription::events(&shop.service, &["test.ping"]);
    broker.subscribe(subscription, consumer.clone()).await.unwrap();

    pg.refuse_connections();
    pg.cut_connections();
    shop.write(0..1).await;
    shop.relay_all(&shop.relay(shop.factory.broker().await, RelayConfig::default())).await;
    // A minute without a database: longer than the old 1 + 5 + 30 s ladder.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(consumer.deliveries.load(Ordering::SeqCst) >= 3, "it was tried during the cut");
    assert_eq!(shop.effects().await, (0, 0));
    pg.restore();

    assert_eq!(shop.wait_for_effects(1, Duration::from_secs(90)).await, (1, 1), "applied once after the cut");
    let (dead, _) = crate::rabbitmq::queue_counts(&format!("{}.dlq", shop.service)).await;
    assert_eq!(dead, 0, "nothing was dead-lettered");
}

/// Waits until `broker`'s subscription `name` consumes again after at
/// least one restart; returns the cause it gave for stopping.
async fn restarted(broker: &Arc<dyn MessageBroker>, name: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = broker.consumption().snapshot().get(name).cloned();
        if let Some(status) = status.as_ref().filter(|s| s.consuming && s.restarts > 0) {
            return status.cause.clone().unwrap_or_default();
        }
        assert!(tokio::time::Instant::now() < deadline, "{name} never consumed again: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_queue_is_deleted_says_why_and_handles_a_later_message() {
    let shop = Shop::new(RabbitFactory::new()).await;
    let consumer = shop.consume().await;
    let queue = format!("{}.events", shop.service);
    let connection =
        lapin::Connection::connect(crate::rabbitmq::AMQP_URI, lapin::ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel.queue_delete(queue.as_str().into(), lapin::options::QueueDeleteOptions::default()).await.unwrap();
    let _ = connection.close(200, "done".into()).await;

    let cause = restarted(&consumer, &shop.service).await;
    assert!(cause.contains("ended the consumer"), "{cause}");
    shop.write(0..1).await;
    shop.relay_all(&shop.relay(shop.factory.broker().await, RelayConfig::default())).await;
    assert_eq!(shop.wait_for_effects(1, Duration::from_secs(20)).await, (1, 1), "the queue is back and consumed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_connection_is_closed_by_name_handles_a_later_message() {
    let factory = RabbitFactory::new();
    let connection_name = factory.config().connection_name;
    let shop = Shop::new(factory).await;
    let consumer = shop.consume().await;
    // Only this test's connections, by their name; never anyone else's.
    let listed = testkit::rabbitmqctl()
        .args(["list_connections", "-q", "--no-table-headers", "pid", "client_properties"])
        .output()
        .expect("rabbitmqctl");
    let listing = String::from_utf8_lossy(&listed.stdout).to_string();
    // The name a client gives its connection is among its properties
    // (RabbitMQ 3.10 has no column of its own for it).
    let ours: Vec<&str> = listing
        .lines()
        .filter(|line| line.contains(connection_name.as_str()))
        .filter_map(|line| line.split('\t').next())
        .map(str::trim)
        .collect();
    assert!(!ours.is_empty(), "no connection named {connection_name}: {listing}");
    for pid in ours {
        let closed =
            testkit::rabbitmqctl().args(["close_connection", pid, "closed by a test"]).status().expect("rabbitmqctl");
        assert!(closed.success());
    }

    let cause = restarted(&consumer, &shop.service).await;
    assert!(!cause.is_empty());
    shop.write(0..1).await;
    shop.relay_all(&shop.relay(shop.factory.broker().await, RelayConfig::default())).await;
    assert_eq!(shop.wait_for_effects(1, Duration::from_secs(20)).await, (1, 1), "consuming on the new connection");
}
