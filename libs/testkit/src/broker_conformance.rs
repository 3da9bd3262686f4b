//! The `MessageBroker` conformance suite: behaviour every implementation
//! must have, written once against the trait. A broker's own test module
//! calls each case with a [`BrokerFactory`] for that broker.
//!
//! Broker-specific behaviour (AMQP properties, connection supervision) is
//! tested beside each implementation, not here.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use comms::messaging::broker::headers;
use comms::messaging::{
    Delivery, Destination, Envelope, Event, Handler, HandlerError, MessageBroker, OutgoingMessage, PublishError,
    Subscription,
};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// Makes brokers for one test, isolated from every other test by names.
pub trait BrokerFactory: Send + Sync {
    /// A new client (its own connection) on the test's isolated namespace.
    fn broker(&self) -> BoxFuture<'_, Arc<dyn MessageBroker>>;
    /// A name unique to this test, for services and queues.
    fn name(&self, prefix: &str) -> String;
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ping {
    pub n: u32,
}

impl Event for Ping {
    const TYPE: &'static str = "test.ping";
    fn subject(&self) -> String {
        format!("ping-{}", self.n)
    }
}

pub fn ping(n: u32, destination: Destination) -> OutgoingMessage {
    OutgoingMessage::from_envelope(&Envelope::new("conformance", &Ping { n }, None), destination, HashMap::new())
}

/// Decides which deliveries a [`Recorder`] fails, and how.
pub type FailWhen = Arc<dyn Fn(&Delivery) -> Option<HandlerError> + Send + Sync>;

/// Records what it receives; fails the messages `fail` says to.
#[derive(Clone)]
pub struct Recorder {
    pub seen: Arc<Mutex<Vec<Delivery>>>,
    fail: FailWhen,
}

impl Recorder {
    pub fn new() -> Self {
        Self::failing(|_| None)
    }

    pub fn failing(fail: impl Fn(&Delivery) -> Option<HandlerError> + Send + Sync + 'static) -> Self {
        Self { seen: Arc::default(), fail: Arc::new(fail) }
    }

    pub fn len(&self) -> usize {
        self.seen.lock().expect("recorder lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn pings(&self) -> Vec<u32> {
        self.seen
            .lock()
            .expect("recorder lock")
            .iter()
            .filter_map(|d| Envelope::from_bytes(&d.body).ok()?.decode::<Ping>().ok().map(|p| p.n))
            .collect()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.seen.lock().expect("recorder lock").clone()
    }

    /// Waits up to `limit` until at least `n` deliveries arrived.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.len() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.len() >= n
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Handler for Recorder {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.seen.lock().expect("recorder lock").push(delivery.clone());
            match (self.fail)(delivery) {
                Some(error) => Err(error),
                None => Ok(()),
            }
        })
    }
}

fn fast(mut subscription: Subscription) -> Subscription {
    subscription.retry_delays = vec![Duration::from_millis(50), Duration::from_millis(100)];
    subscription
}

async fn publish_all(broker: &Arc<dyn MessageBroker>, messages: &[OutgoingMessage]) {
    for (i, outcome) in broker.publish(messages).await.into_iter().enumerate() {
        outcome.unwrap_or_else(|e| panic!("message {i} was not published: {e}"));
    }
}

const PATIENCE: Duration = Duration::from_secs(20);

/// `deliveries_in_flight` of the subscription named `service` (with or
/// without the broker's namespace before it), as `/metrics` shows it.
fn in_flight(service: &str) -> f64 {
    metric("deliveries_in_flight", service)
}

/// `name`'s value for the subscription named `service`.
fn metric(name: &str, service: &str) -> f64 {
    let (prefix, subscription) = (format!("{name}{{"), format!("{service}\""));
    comms::prometheus::install()
        .render()
        .lines()
        .filter(|l| l.starts_with(&prefix) && l.contains(&subscription))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every subscribed service gets its own copy of every event.
pub async fn events_fan_out_to_every_subscribed_service(factory: &dyn BrokerFactory) {
    let broker = factory.broker().await;
    let (a, b) = (Recorder::new(), Recorder::new());
    broker
        .subscribe(fast(Subscription::events(&factory.name("svc-a"), &[Ping::TYPE])), Arc::new(a.clone()))
        .await
        .unwrap();
    broker
        .subscribe(fast(Subscription::events(&factory.name("svc-b"), &[Ping::TYPE])), Arc::new(b.clone()))
        .await
        .unwrap();
    let messages: Vec<_> = (0..20).map(|n| ping(n, Destination::Event)).collect();
    publish_all(&broker, &messages).await;
    assert!(a.wait_for(20, PATIENCE).await && b.wait_for(20, PATIENCE).await, "a: {}, b: {}", a.len(), b.len());
    let expected: HashSet<u32> = (0..20).collect();
    assert_eq!(a.pings().into_iter().collect::<HashSet<_>>(), expected);
    assert_eq!(b.pings().into_iter().collect::<HashSet<_>>(), expected);
}

/// Replicas of one service share its events: each event handled by one.
pub async fn replicas_of_a_service_compete_for_its_events(factory: &dyn BrokerFactory) {
    let service = factory.name("replicated");
    let (one, two) = (Recorder::new(), Recorder::new());
    let (b1, b2) = (factory.broker().await, factory.broker().await);
    let mut sub = fast(Subscription::events(&service, &[Ping::TYPE]));
    sub.prefetch = 1;
    b1.subscribe(sub.clone(), Arc::new(one.clone())).await.unwrap();
    b2.subscribe(sub, Arc::new(two.clone())).await.unwrap();
    let messages: Vec<_> = (0..60).map(|n| ping(n, Destination::Event)).collect();
    publish_all(&b1, &messages).await;
    let total = || one.len() + two.len();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while total() < 60 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut all = one.pings();
    all.extend(two.pings());
    all.sort_unstable();
    assert_eq!(all, (0..60).collect::<Vec<_>>(), "each event handled once across the replicas");
    assert!(!one.is_empty() && !two.is_empty(), "both replicas worked: {} / {}", one.len(), two.len());
}

/// Holds the first delivery until released; records what it started and
/// what it finished.
#[derive(Clone)]
struct Gate {
    started: Recorder,
    finished: Arc<Mutex<Vec<u32>>>,
    release: Arc<tokio::sync::Semaphore>,
}

impl Gate {
    fn closed() -> Self {
        Self { started: Recorder::new(), finished: Arc::default(), release: Arc::new(tokio::sync::Semaphore::new(0)) }
    }
}

impl Handler for Gate {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.started.handle(delivery).await?;
            self.release.acquire().await.expect("the gate is never closed").forget();
            let n = Envelope::from_bytes(&delivery.body).ok().and_then(|e| e.decode::<Ping>().ok()).map(|p| p.n);
            self.finished.lock().expect("gate lock").extend(n);
            Ok(())
        })
    }
}

/// Unsubscribing stops the taking, not the work: a handler held mid-message
/// runs to its end and its message is settled; what is published afterwards
/// never reaches it, and the next subscriber on the same queue or group
/// gets each of those messages, and not the settled one again.
pub async fn unsubscribing_lets_a_running_handler_finish_and_leaves_the_rest_to_the_next_subscriber(
    factory: &dyn BrokerFactory,
) {
    let service = factory.name("leaving");
    let subscription = fast(Subscription::events(&service, &[Ping::TYPE]));
    let (first, gate) = (factory.broker().await, Gate::closed());
    let id = first.subscribe(subscription.clone(), Arc::new(gate.clone())).await.unwrap();
    publish_all(&first, &[ping(0, Destination::Event)]).await;
    assert!(gate.started.wait_for(1, PATIENCE).await, "the held message reached its handler");
    assert_eq!(in_flight(&service), 1.0, "the held message counts as in flight");
    assert_eq!(metric("deliveries_total", &service), 1.0, "and as delivered");

    // Returns while the handler is still held: it does not wait for it.
    tokio::time::timeout(PATIENCE, first.unsubscribe(id)).await.expect("unsubscribe returns").unwrap();
    publish_all(&first, &(1..=5).map(|n| ping(n, Destination::Event)).collect::<Vec<_>>()).await;
    gate.release.add_permits(1);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while gate.finished.lock().expect("gate lock").is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*gate.finished.lock().expect("gate lock"), [0], "the running handler finished its message");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while in_flight(&service) != 0.0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(in_flight(&service), 0.0, "and once settled, it is not in flight any more");

    let (second, next) = (factory.broker().await, Recorder::new());
    second.subscribe(subscription, Arc::new(next.clone())).await.unwrap();
    assert!(next.wait_for(5, PATIENCE).await, "the next subscriber got {:?}", next.pings());
    // Time for a stray redelivery of the settled message to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut got = next.pings();
    got.sort_unstable();
    assert_eq!(got, [1, 2, 3, 4, 5], "each later message once, and not the settled one");
    assert_eq!(gate.started.pings(), [0], "nothing published after unsubscribe reached the first handler");
}

/// A task queue with two workers: every task done once, work shared, and a
/// failing task retried and then dead-lettered.
pub async fn task_queue_workers_share_tasks_and_dead_letter_failures(factory: &dyn BrokerFactory) {
    let queue = factory.name("tasks");
    let broker = factory.broker().await;
    broker.declare_task_queue(&queue).await.unwrap();
    let poison = |d: &Delivery| {
        let n = Envelope::from_bytes(&d.body).ok()?.decode::<Ping>().ok()?.n;
        (n == 13).then(|| HandlerError::Transient("task 13 always fails".into()))
    };
    let (w1, w2) = (Recorder::failing(poison), Recorder::failing(poison));
    let dead = Recorder::new();
    let mut sub = fast(Subscription::tasks(&queue));
    sub.prefetch = 1;
    // Two workers, each with a connection of its own (kept alive).
    let (b1, b2) = (factory.broker().await, factory.broker().await);
    b1.subscribe(sub.clone(), Arc::new(w1.clone())).await.unwrap();
    b2.subscribe(sub, Arc::new(w2.clone())).await.unwrap();
    broker.subscribe(Subscription::dead_letters(&queue), Arc::new(dead.clone())).await.unwrap();

    let messages: Vec<_> = (0..40).map(|n| ping(n, Destination::Task { queue: queue.clone() })).collect();
    publish_all(&broker, &messages).await;
    assert!(
        dead.wait_for(1, PATIENCE).await,
        "the failing task was dead-lettered (workers saw {:?} and {:?})",
        w1.pings(),
        w2.pings()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut done: Vec<u32> = w1.pings().into_iter().chain(w2.pings()).filter(|n| *n != 13).collect();
    done.sort_unstable();
    let expected: Vec<u32> = (0..40).filter(|n| *n != 13).collect();
    assert_eq!(done, expected, "every other task done exactly once");
    assert!(!w1.is_empty() && !w2.is_empty(), "work was shared: {} / {}", w1.len(), w2.len());
    let attempts = w1.pings().into_iter().chain(w2.pings()).filter(|n| *n == 13).count();
    assert_eq!(attempts, 3, "retried, then dead-lettered after the third attempt");
    assert_eq!(dead.pings(), [13]);
}

/// A handler that always fails: exactly N attempts, then the dead-letter
/// queue with the reason, while other messages keep flowing.
pub async fn a_failing_message_is_dead_lettered_after_exactly_n_attempts(factory: &dyn BrokerFactory) {
    let service = factory.name("fails");
    let broker = factory.broker().await;
    let handler = Recorder::failing(|d| {
        let n = Envelope::from_bytes(&d.body).ok()?.decode::<Ping>().ok()?.n;
        (n == 0).then(|| HandlerError::Transient("the database said no".into()))
    });
    let dead = Recorder::new();
    let sub = fast(Subscription::events(&service, &[Ping::TYPE]));
    let attempts_allowed = sub.max_attempts();
    broker.subscribe(sub, Arc::new(handler.clone())).await.unwrap();
    broker.subscribe(Subscription::dead_letters(&service), Arc::new(dead.clone())).await.unwrap();

    let messages: Vec<_> = (0..30).map(|n| ping(n, Destination::Event)).collect();
    publish_all(&broker, &messages).await;
    assert!(dead.wait_for(1, PATIENCE).await, "dead-lettered");
    assert!(handler.wait_for(30 + attempts_allowed as usize - 1, PATIENCE).await);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let tries: Vec<u32> = handler
        .deliveries()
        .iter()
        .filter(|d| Envelope::from_bytes(&d.body).unwrap().decode::<Ping>().unwrap().n == 0)
        .map(|d| d.attempt)
        .collect();
    assert_eq!(tries, (1..=attempts_allowed).collect::<Vec<_>>(), "attempts are counted 1..=N");
    let others: HashSet<u32> = handler.pings().into_iter().filter(|n| *n != 0).collect();
    assert_eq!(others.len(), 29, "the other messages were not blocked");
    let letter = &dead.deliveries()[0];
    let reason = letter.headers.get(headers::DEATH_REASON).expect("a reason");
    assert!(reason.contains("the database said no"), "{reason}");
}

/// A handler's panic fails its message, not its consumer: the message is
/// retried, one that panics every time is dead-lettered with the panic as
/// its reason, and the messages around it are handled.
pub async fn a_handler_that_panics_fails_its_message_not_its_consumer(factory: &dyn BrokerFactory) {
    let service = factory.name("panics");
    let broker = factory.broker().await;
    let handler = Recorder::failing(|d| {
        let n = Envelope::from_bytes(&d.body).ok()?.decode::<Ping>().ok()?.n;
        assert!(n != 0 && (n != 1 || d.attempt > 1), "ping {n} breaks the handler");
        None
    });
    let dead = Recorder::new();
    let sub = fast(Subscription::events(&service, &[Ping::TYPE]));
    let attempts_allowed = sub.max_attempts() as usize;
    broker.subscribe(sub, Arc::new(handler.clone())).await.unwrap();
    broker.subscribe(Subscription::dead_letters(&service), Arc::new(dead.clone())).await.unwrap();

    let messages: Vec<_> = (0..10).map(|n| ping(n, Destination::Event)).collect();
    publish_all(&broker, &messages).await;
    assert!(dead.wait_for(1, PATIENCE).await, "the message that always panics is dead-lettered");
    let reason = dead.deliveries()[0].headers.get(headers::DEATH_REASON).cloned().unwrap_or_default();
    assert!(reason.contains("panicked") && reason.contains("ping 0 breaks the handler"), "{reason}");
    // Ping 0 each attempt, ping 1 twice, the others once.
    assert!(handler.wait_for(attempts_allowed + 2 + 8, PATIENCE).await, "seen: {:?}", handler.pings());
    let mut pings = handler.pings();
    pings.sort_unstable();
    let mut expected = vec![0; attempts_allowed];
    expected.extend([1, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(pings, expected);

    publish_all(&broker, &[ping(10, Destination::Event)]).await;
    assert!(handler.wait_for(attempts_allowed + 11, PATIENCE).await, "the consumer goes on after the panics");
}

/// Bodies that are not envelopes, unknown types and payloads with missing
/// fields go to the dead-letter queue with the reason, at once.
pub async fn malformed_messages_are_dead_lettered_with_a_reason(factory: &dyn BrokerFactory) {
    let service = factory.name("strict");
    let broker = factory.broker().await;
    let good = Recorder::new();
    let dead = Recorder::new();
    // The router a service consumes with: it decodes before it opens a
    // transaction, but it needs a database to open one in.
    let db = crate::TestDatabase::create_empty().await.unwrap();
    comms::messaging::outbox::install(&db.pool).await.unwrap();
    let router = typed_pings(good.clone()).consumer(db.pool.clone(), &service);
    broker
        .subscribe(fast(Subscription::events(&service, &[Ping::TYPE, "test.unknown"])), Arc::new(router))
        .await
        .unwrap();
    broker.subscribe(Subscription::dead_letters(&service), Arc::new(dead.clone())).await.unwrap();

    let mut not_json = ping(1, Destination::Event);
    not_json.body = b"this is not json".to_vec();
    let mut unknown = ping(2, Destination::Event);
    unknown.event_type = "test.unknown".into();
    unknown.body =
        Envelope { event_type: "test.unknown".into(), ..Envelope::new("t", &Ping { n: 2 }, None) }.to_bytes();
    let mut missing = ping(3, Destination::Event);
    missing.body = Envelope { data: serde_json::json!({}), ..Envelope::new("t", &Ping { n: 3 }, None) }.to_bytes();
    publish_all(&broker, &[not_json, unknown, missing, ping(4, Destination::Event)]).await;

    assert!(dead.wait_for(3, PATIENCE).await, "three dead letters, got {}", dead.len());
    assert!(good.wait_for(1, PATIENCE).await, "the good message still got through");
    let reasons: Vec<String> =
        dead.deliveries().iter().map(|d| d.headers.get(headers::DEATH_REASON).cloned().unwrap_or_default()).collect();
    assert!(reasons.iter().any(|r| r.contains("not a JSON event envelope")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("unknown event type test.unknown")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("missing field `n`")), "{reasons:?}");
    assert!(dead.deliveries().iter().all(|d| d.attempt == 1), "dead-lettered at once, not retried");
}

/// An event nobody subscribed to is an error, not a silent drop.
pub async fn an_event_with_no_subscriber_is_reported_unroutable(factory: &dyn BrokerFactory) {
    let broker = factory.broker().await;
    let outcome = broker.publish(&[ping(1, Destination::Event)]).await;
    assert!(matches!(outcome[0], Err(PublishError::Unroutable(_))), "{outcome:?}");
}

/// The typed router over `Ping`, recording each decoded event.
fn typed_pings(seen: Recorder) -> comms::messaging::EventRouter<Recorder> {
    comms::messaging::EventRouter::with_state(Arc::new(seen)).on(record_ping)
}

async fn record_ping(
    seen: &Recorder,
    _tx: &mut sqlx::PgConnection,
    envelope: &Envelope,
    _ping: Ping,
) -> Result<(), HandlerError> {
    let delivery = Delivery { body: envelope.to_bytes(), headers: HashMap::new(), attempt: 1, redelivered: false };
    seen.handle(&delivery).await
}
