//! Consuming one subscription from Kafka: a consumer for the main topics
//! and one per retry level, each storing an offset for commit only after
//! the message was handled or moved on, each supervised on its own.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::FutureExt;
use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::producer::FutureProducer;
use tokio::sync::oneshot;
use tracing::Instrument;

use super::{KafkaConfig, NOT_BEFORE};
use crate::messaging::broker::{Delivery, Handler, HandlerError, Subscription, SubscriptionKind, headers};
use crate::messaging::consuming::{self, Consuming, Restarts, Stop};
use crate::messaging::consumption::Consumption;
use crate::messaging::spans;

const SYSTEM: &str = "kafka";

pub struct Names {
    pub main: Vec<String>,
    pub retries: Vec<(String, Duration)>,
    pub dead_letters: String,
    pub group: String,
}

struct Stage {
    names: Arc<Names>,
    subscription: Arc<Subscription>,
    handler: Arc<dyn Handler>,
    producer: FutureProducer,
}

/// Starts the members of `subscription` (the main topics' and one per
/// retry level), each supervised on its own: a member that ends (its
/// client could not be made, it panicked, a fatal consumer error) is
/// logged with its cause and started again with back-off. The main member
/// reports to `consumption`, and watches the broker while it runs: a broker
/// it cannot reach is reported as the subscription not consuming, until it
/// answers again. Returns once the main member has its partitions (up to
/// 30 s), so the subscription is live, as on RabbitMQ.
pub async fn start(
    config: &KafkaConfig,
    producer: FutureProducer,
    names: &Names,
    subscription: &Subscription,
    handler: Arc<dyn Handler>,
    consumption: Consumption,
) -> Consuming {
    let names = Arc::new(Names {
        main: names.main.clone(),
        retries: names.retries.clone(),
        dead_letters: names.dead_letters.clone(),
        group: names.group.clone(),
    });
    let subscription = Arc::new(subscription.clone());
    let (switch, stop) = Consuming::switch();
    let mut tasks = Vec::new();
    let levels = if subscription.kind == SubscriptionKind::DeadLetters { 0 } else { names.retries.len() };
    let (assigned, first_assignment) = oneshot::channel();
    let mut assigned = Some(assigned);
    for level in 0..=levels {
        let (group, topics) = if level == 0 {
            (names.group.clone(), names.main.clone())
        } else {
            (format!("{}.retry.{level}", names.group), vec![names.retries[level - 1].0.clone()])
        };
        let member = MemberSpec {
            config: config.clone(),
            group,
            topics,
            // Only the main member speaks for the subscription.
            reports: (level == 0).then(|| consumption.clone()),
            assigned: if level == 0 { assigned.take() } else { None },
        };
        let stage = Stage {
            names: names.clone(),
            subscription: subscription.clone(),
            handler: handler.clone(),
            producer: producer.clone(),
        };
        tasks.push(tokio::spawn(supervise(member, stage, stop.clone())));
    }
    let _ = first_assignment.await;
    Consuming::new(switch, tasks)
}

/// What a member is, for its supervisor to make it again.
struct MemberSpec {
    config: KafkaConfig,
    group: String,
    topics: Vec<String>,
    /// The record the main member reports to.
    reports: Option<Consumption>,
    /// Told once the first run has its partitions (or gave up waiting).
    assigned: Option<oneshot::Sender<()>>,
}

impl MemberSpec {
    fn report_lost(&self, cause: &str) {
        match &self.reports {
            Some(consumption) => consumption.lost(&self.group, cause),
            None => tracing::warn!(group = %self.group, %cause, "a retry member stopped; restarting it"),
        }
    }

    fn report_consuming(&self) {
        if let Some(consumption) = &self.reports {
            consumption.consuming(&self.group);
        }
    }
}

/// Runs one member until it is told to stop, making it again whenever it
/// ends on its own.
async fn supervise(mut spec: MemberSpec, stage: Stage, mut stop: Stop) {
    let mut restarts = Restarts::new();
    loop {
        let cause = match member(&spec) {
            Ok(consumer) => {
                let consumer = Arc::new(Member(Some(consumer)));
                if let Some(assigned) = spec.assigned.take() {
                    // Beside the run: a member gets partitions only while
                    // it is polled.
                    tokio::spawn(wait_for_assignment(Arc::downgrade(&consumer), assigned));
                }
                spec.report_consuming();
                restarts.started();
                let watching = spec.reports.clone().map(|consumption| {
                    tokio::spawn(watch_broker(
                        Arc::downgrade(&consumer),
                        spec.group.clone(),
                        spec.topics[0].clone(),
                        consumption,
                    ))
                });
                let ended = AssertUnwindSafe(run(consumer, &stage, &mut stop)).catch_unwind().await;
                if let Some(watching) = watching {
                    watching.abort();
                }
                match ended {
                    Ok(Ended::Stopped) => {
                        if let Some(consumption) = &spec.reports {
                            consumption.forget(&spec.group);
                        }
                        return;
                    }
                    Ok(Ended::Lost(cause)) => cause,
                    Err(_) => "the member panicked".to_owned(),
                }
            }
            Err(error) => format!("cannot make the group member: {error}"),
        };
        if let Some(assigned) = spec.assigned.take() {
            let _ = assigned.send(());
        }
        spec.report_lost(&cause);
        if !restarts.wait(&mut stop).await {
            if let Some(consumption) = &spec.reports {
                consumption.forget(&spec.group);
            }
            return;
        }
    }
}

/// How often the main member asks the broker for its topic while it runs,
/// and how long it waits for the answer.
const WATCH_EVERY: Duration = Duration::from_secs(2);
const WATCH_TIMEOUT: Duration = Duration::from_secs(3);

/// librdkafka reconnects on its own and a consumer waiting on a quiet topic
/// hears nothing of an outage, so the main member asks: a broker that does
/// not answer within [`WATCH_TIMEOUT`] means the subscription is not
/// consuming, and one that answers again means it is. It holds the member
/// weakly: a member dropped without its supervisor (the broker dropped,
/// its tasks aborted) must still close and leave its group.
async fn watch_broker(consumer: Weak<Member>, group: String, topic: String, consumption: Consumption) {
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Some(asking) = consumer.upgrade() else { return };
        let name = topic.clone();
        let answer =
            tokio::task::spawn_blocking(move || asking.fetch_metadata(Some(&name), WATCH_TIMEOUT).map(|_| ())).await;
        match answer {
            Ok(Ok(())) => consumption.consuming(&group),
            Ok(Err(error)) => consumption.lost(&group, &format!("the Kafka broker does not answer: {error}")),
            Err(_) => return,
        }
    }
}

/// A new group member of `spec.group`, subscribed to its topics.
fn member(spec: &MemberSpec) -> Result<StreamConsumer, rdkafka::error::KafkaError> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &spec.config.brokers)
        .set("group.id", &spec.group)
        .set("client.id", &spec.config.client_id)
        // An offset is stored only once its record was handled (below,
        // never by the client on its own); the client commits what was
        // stored every second, on a rebalance and on close. A crash
        // re-delivers at most a second's records, and the inbox absorbs
        // them. A synchronous commit per record would block a runtime
        // worker for a broker round trip, and during a rebalance for as
        // long as the rebalance waits on this very consumer's poll.
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        // A new group starts at the beginning: events published before
        // the first replica subscribed are not skipped.
        .set("auto.offset.reset", "earliest")
        // A fetch returns after at most 20 ms even when it found nothing,
        // instead of librdkafka's 500 ms: without it, a broker that holds
        // empty fetches for the full wait (tansu does) adds half a second
        // to every event on a quiet topic.
        .set("fetch.wait.max.ms", "20")
        // Notice a dead member within seconds, so its partitions move.
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000")
        .create()?;
    let topics: Vec<&str> = spec.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    Ok(consumer)
}

/// How a member's run ended.
enum Ended {
    Stopped,
    Lost(String),
}

/// One group member. Closing a consumer leaves its group: librdkafka blocks
/// the dropping thread until the broker has answered, which can take
/// seconds on a busy broker. So the last handle closes it on the blocking
/// pool, never on a runtime worker: on a small runtime a few members
/// closing at once (one per retry level) would otherwise stall every other
/// task, the surviving members' included.
struct Member(Option<StreamConsumer>);

impl std::ops::Deref for Member {
    type Target = StreamConsumer;

    fn deref(&self) -> &StreamConsumer {
        self.0.as_ref().expect("a member is only emptied when dropped")
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let Some(consumer) = self.0.take() else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn_blocking(move || drop(consumer));
        }
        // Outside a runtime (it is shutting down) the consumer closes here.
    }
}

/// Says `assigned` once the group has given this member partitions (or
/// after 30 s), so that a subscription is live when `subscribe` returns, as
/// on RabbitMQ.
async fn wait_for_assignment(consumer: Weak<Member>, assigned: oneshot::Sender<()>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let Some(member) = consumer.upgrade() else { break };
        if member.assignment().is_ok_and(|a| a.count() > 0) {
            let _ = assigned.send(());
            return;
        }
        drop(member);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::warn!("no partitions assigned within 30 s; consuming will start when they are");
    let _ = assigned.send(());
}

/// Takes messages until told to stop (`Stopped`, offsets committed) or a
/// fatal consumer error (`Lost`). Other errors librdkafka recovers from on
/// its own: they are logged, and the member goes on.
async fn run(consumer: Arc<Member>, stage: &Stage, stop: &mut Stop) -> Ended {
    let ended = loop {
        // Asked between messages only: a message taken is handled and its
        // offset stored before the member stops.
        let received = tokio::select! {
            biased;
            () = stop.requested() => break Ended::Stopped,
            received = consumer.recv() => received,
        };
        let message = match received {
            Ok(message) => message,
            Err(error @ KafkaError::MessageConsumptionFatal(_)) => {
                break Ended::Lost(format!("consuming failed: {error}"));
            }
            Err(error) => {
                tracing::warn!(%error, group = %stage.names.group, "kafka consumer error");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let (string_headers, attempt) = read_headers(&message);
        if string_headers.contains_key(super::SETTLED) {
            // The dlq tool's note that a dead letter was replayed: not a
            // message for any handler.
            let _ = consumer.store_offset_from_message(&message);
            continue;
        }
        if let Some(wait) = wait_before(&string_headers) {
            // A retry not yet due is not taken yet: stopping meanwhile
            // leaves it, offset unstored, to the group's next owner.
            tokio::select! {
                biased;
                () = stop.requested() => break Ended::Stopped,
                () = tokio::time::sleep(wait) => {}
            }
        }
        // Handled, or safely moved on: only then is the offset stored.
        while !process(stage, &message, &string_headers, attempt).await {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if let Err(error) = consumer.store_offset_from_message(&message) {
            // The partition moved to another member meanwhile.
            tracing::warn!(%error, "offset not stored; the message may be delivered again");
        }
    };
    if let Ended::Lost(_) = ended {
        return ended;
    }
    // Commit what was handled before leaving the group, so the partitions'
    // next owner starts after it. (A blocking call: on the blocking pool.)
    let leaving = consumer.clone();
    let committed = tokio::task::spawn_blocking(move || leaving.commit_consumer_state(CommitMode::Sync)).await;
    if let Ok(Err(error)) = committed {
        // Nothing stored since the last commit is the usual reason.
        tracing::debug!(%error, group = %stage.names.group, "no offsets committed on leaving");
    }
    Ended::Stopped
}

/// Handles one message; `false` means "not settled, try again".
async fn process(
    stage: &Stage,
    message: &BorrowedMessage<'_>,
    string_headers: &HashMap<String, String>,
    attempt: u32,
) -> bool {
    let _in_flight = consuming::InFlight::start(&stage.subscription.name);
    let body = message.payload().unwrap_or_default().to_vec();
    let delivery = Delivery { body, headers: string_headers.clone(), attempt, redelivered: false };
    let span = spans::consumer(SYSTEM, message.topic(), string_headers, attempt);
    if let Some(id) = string_headers.get("message-id") {
        span.record("messaging.message.id", id.as_str());
    }
    if let Some(kind) = string_headers.get("type") {
        span.record("messaging.message.type", kind.as_str());
    }
    let outcome = consuming::handle(stage.handler.as_ref(), &delivery).instrument(span.clone()).await;
    let settle = async {
        let max = stage.subscription.max_attempts();
        match outcome {
            Ok(()) => true,
            Err(_) if stage.subscription.kind == SubscriptionKind::DeadLetters => false,
            Err(HandlerError::Transient(reason)) if attempt < max => {
                let (topic, delay) = &stage.names.retries[stage.subscription.retry_level(attempt)];
                tracing::warn!(%reason, attempt, "handler failed; retrying later");
                let mut moved = string_headers.clone();
                moved.insert(headers::ATTEMPT.into(), (attempt + 1).to_string());
                let not_before =
                    chrono::Utc::now().timestamp_millis() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
                moved.insert(NOT_BEFORE.into(), not_before.to_string());
                super::forward(&stage.producer, topic, message.key(), &delivery.body, &moved).await
            }
            Err(HandlerError::Transient(reason) | HandlerError::Permanent(reason)) => {
                tracing::error!(%reason, attempt, topic = %stage.names.dead_letters, "message dead-lettered");
                metrics::counter!("messages_dead_lettered_total", "queue" => stage.names.group.clone()).increment(1);
                let mut moved = string_headers.clone();
                moved.insert(headers::DEATH_REASON.into(), reason);
                moved.insert(headers::DEATH_QUEUE.into(), stage.names.group.clone());
                moved.insert(headers::DEATH_TIME.into(), chrono::Utc::now().to_rfc3339());
                moved.remove(NOT_BEFORE);
                super::forward(&stage.producer, &stage.names.dead_letters, message.key(), &delivery.body, &moved).await
            }
        }
    };
    settle.instrument(span).await
}

fn read_headers(message: &BorrowedMessage<'_>) -> (HashMap<String, String>, u32) {
    let mut map = HashMap::new();
    if let Some(record_headers) = message.headers() {
        for header in record_headers.iter() {
            if let Some(value) = header.value {
                map.insert(header.key.to_owned(), String::from_utf8_lossy(value).into_owned());
            }
        }
    }
    let attempt = map.get(headers::ATTEMPT).and_then(|a| a.parse().ok()).unwrap_or(1u32).max(1);
    (map, attempt)
}

fn wait_before(headers: &HashMap<String, String>) -> Option<Duration> {
    let not_before: i64 = headers.get(NOT_BEFORE)?.parse().ok()?;
    let now = chrono::Utc::now().timestamp_millis();
    (not_before > now).then(|| Duration::from_millis(u64::try_from(not_before - now).unwrap_or(0)))
}
