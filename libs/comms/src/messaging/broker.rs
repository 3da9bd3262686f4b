//! The `MessageBroker` trait: what the rest of the system needs from a
//! broker, and nothing of any one broker's API.
//!
//! Two messaging patterns go through it:
//! - **domain events** fan out: every subscribing service gets its own copy
//!   (its own queue or consumer group), and replicas of one service compete
//!   for it;
//! - **task queues** are point-to-point: one named queue, competing
//!   workers, each task done once.
//!
//! Delivery is at least once. A handler acknowledges by returning `Ok`
//! after its transaction commits; duplicates are absorbed by the inbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

/// Where a message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// Fan out to every service subscribed to the event's type.
    Event,
    /// One named work queue.
    Task { queue: String },
}

/// A message ready to publish: an encoded envelope and its metadata.
#[derive(Clone, Debug)]
pub struct OutgoingMessage {
    pub destination: Destination,
    pub id: uuid::Uuid,
    pub event_type: String,
    /// The partition key where the broker has partitions (Kafka).
    pub subject: Option<String>,
    pub correlation_id: String,
    pub source: String,
    pub schema_version: u32,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub body: Vec<u8>,
    /// Trace context and other string headers.
    pub headers: HashMap<String, String>,
}

impl OutgoingMessage {
    pub fn from_envelope(
        envelope: &super::Envelope,
        destination: Destination,
        headers: HashMap<String, String>,
    ) -> Self {
        Self {
            destination,
            id: envelope.id,
            event_type: envelope.event_type.clone(),
            subject: envelope.subject.clone(),
            correlation_id: envelope.correlationid.clone(),
            source: envelope.source.clone(),
            schema_version: envelope.schemaversion,
            timestamp: envelope.time,
            body: envelope.to_bytes(),
            headers,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// No queue is bound for this message: it would have been dropped.
    #[error("unroutable: no queue is bound for {0}")]
    Unroutable(String),
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// Sending it again would be refused again (too large, say).
    #[error("the broker refused the message for good: {0}")]
    Refused(String),
}

/// A message handed to a handler.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub body: Vec<u8>,
    pub headers: HashMap<String, String>,
    /// 1 for the first delivery attempt, counted by us in a header so it
    /// means the same on every broker and broker version.
    pub attempt: u32,
    /// The broker says this may have been delivered before.
    pub redelivered: bool,
}

/// What a failed handler wants done with the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (a database blip): retry with backoff, then
    /// dead-letter after the last attempt.
    #[error("transient: {0}")]
    Transient(String),
    /// Will never work (malformed, unknown type): dead-letter now.
    #[error("permanent: {0}")]
    Permanent(String),
}

pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>>;
}

/// What to consume.
#[derive(Clone, Debug)]
pub struct Subscription {
    /// The consuming service (events) or the queue (tasks). Queues,
    /// retry queues and the dead-letter queue are named after it.
    pub name: String,
    pub kind: SubscriptionKind,
    /// Messages in flight per consumer ([`DEFAULT_PREFETCH`]).
    pub prefetch: u16,
    /// The waits between attempts; attempts = delays + 1. Default
    /// [`retry_schedule`] over [`DEFAULT_RETRY_SPAN`]: a transient failure
    /// (a database failover, a dependency restarting) is retried for half
    /// an hour before the message is dead-lettered.
    pub retry_delays: Vec<Duration>,
}

/// How long a transient failure is retried by default (`BROKER_RETRY_SPAN_SECS`).
pub const DEFAULT_RETRY_SPAN: Duration = Duration::from_secs(30 * 60);

/// The first waits, then [`RETRY_CAP`] repeated: quick retries for a blip,
/// then a steady pace that costs the broker little.
const RETRY_LADDER: [Duration; 4] =
    [Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(30), Duration::from_secs(30)];
const RETRY_CAP: Duration = Duration::from_secs(300);

/// The waits between attempts that together cover at least `span`: 1 s,
/// 5 s, 30 s, 30 s, then 5 min each (capped back-off): a blip is retried
/// within seconds, an outage of a minute within 66 s, and after that
/// the pace costs the broker little. 30 minutes take ten waits, so eleven
/// attempts, in four distinct delays: each distinct delay is one retry
/// queue or topic ([`Subscription::retry_levels`]).
pub fn retry_schedule(span: Duration) -> Vec<Duration> {
    let mut delays = Vec::new();
    let mut covered = Duration::ZERO;
    for delay in RETRY_LADDER.into_iter().chain(std::iter::repeat(RETRY_CAP)) {
        if covered >= span {
            break;
        }
        delays.push(delay);
        covered += delay;
    }
    delays
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriptionKind {
    Events {
        types: Vec<String>,
    },
    Tasks,
    /// What `name`'s subscription gave up on, with the reason in the
    /// [`headers::DEATH_REASON`] header: for an operator's tooling (and
    /// tests). A failed handler here puts the message back after a short
    /// pause; it is never dead-lettered again.
    DeadLetters,
}

impl Subscription {
    pub fn events(service: &str, types: &[&str]) -> Self {
        Self::new(service, SubscriptionKind::Events { types: types.iter().map(|t| (*t).to_owned()).collect() })
    }

    pub fn tasks(queue: &str) -> Self {
        Self::new(queue, SubscriptionKind::Tasks)
    }

    /// The dead letters of the subscription called `name`.
    pub fn dead_letters(name: &str) -> Self {
        Self::new(name, SubscriptionKind::DeadLetters)
    }

    fn new(name: &str, kind: SubscriptionKind) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            prefetch: DEFAULT_PREFETCH,
            retry_delays: retry_schedule(DEFAULT_RETRY_SPAN),
        }
    }

    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.retry_delays.len()).unwrap_or(u32::MAX - 1) + 1
    }

    /// The distinct delays, in the order first used: one retry queue (or
    /// topic) each, so a schedule that repeats its cap needs no more
    /// queues than it has distinct waits. Within one queue every message
    /// waits as long, so first in is first due.
    pub fn retry_levels(&self) -> Vec<Duration> {
        let mut levels: Vec<Duration> = Vec::new();
        for delay in &self.retry_delays {
            if !levels.contains(delay) {
                levels.push(*delay);
            }
        }
        levels
    }

    /// The retry level (index into [`Self::retry_levels`]) a message waits
    /// in after failing attempt `attempt` (1-based).
    pub fn retry_level(&self, attempt: u32) -> usize {
        let delay = self.retry_delays[(attempt - 1) as usize];
        self.retry_levels().iter().position(|level| *level == delay).unwrap_or_default()
    }
}

/// Messages a consumer takes at once unless configured (`BROKER_PREFETCH`):
/// enough to keep handlers busy across round trips, few enough to share
/// work between replicas. Never more than the database pool holds: each
/// message in flight holds a connection (`Messaging`).
pub const DEFAULT_PREFETCH: u16 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionId(pub u64);

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    #[error("broker refused: {0}")]
    Refused(String),
}

pub trait MessageBroker: Send + Sync + 'static {
    /// Publishes a batch with confirms: all are sent before any confirm is
    /// awaited (a window), and each gets its own outcome.
    fn publish<'a>(&'a self, messages: &'a [OutgoingMessage]) -> BoxFuture<'a, Vec<Result<(), PublishError>>>;

    /// Declares what the subscription needs and starts consuming; the
    /// subscription survives reconnections.
    fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>>;

    /// Stops taking new messages. Handlers already running finish, and their
    /// messages are settled (acknowledged, or their offsets committed)
    /// before the subscription lets go, so another subscriber on the same
    /// queue or group gets exactly what was not handled. Returns without
    /// waiting for them.
    fn unsubscribe(&self, id: SubscriptionId) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Declares a task queue so tasks can be published before any worker
    /// subscribes.
    fn declare_task_queue<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<(), BrokerError>>;

    /// Whether each subscription is consuming right now.
    fn consumption(&self) -> super::consumption::Consumption;

    /// Whether the broker's connection is up, where the client can tell
    /// (RabbitMQ's can; Kafka's client reconnects on its own and says
    /// nothing, so its subscriptions speak for it).
    fn connected(&self) -> bool {
        true
    }
}

/// Header names shared by every implementation.
pub mod headers {
    /// Which attempt this delivery is, from 1.
    pub const ATTEMPT: &str = "x-attempt";
    /// Why a message was dead-lettered.
    pub const DEATH_REASON: &str = "x-death-reason";
    /// The queue (or group) that gave up on it.
    pub const DEATH_QUEUE: &str = "x-death-queue";
    /// When, in RFC 3339.
    pub const DEATH_TIME: &str = "x-death-time";
    pub const SOURCE: &str = "source";
    pub const SCHEMA_VERSION: &str = "schema-version";
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Subscription, retry_schedule};

    #[test]
    fn the_default_schedule_retries_for_half_an_hour_in_four_queues() {
        let delays = retry_schedule(Duration::from_secs(1800));
        let total: Duration = delays.iter().sum();
        assert!(total >= Duration::from_secs(1800), "{total:?}");
        assert!(total < Duration::from_secs(1800 + 300), "no wait beyond the span's last: {total:?}");
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(300)), "capped: {delays:?}");
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "never shorter than the one before: {delays:?}");

        let subscription = Subscription::events("orders", &["order.placed"]);
        assert_eq!(subscription.retry_delays, delays, "the default");
        assert_eq!(subscription.max_attempts(), 11);
        let levels = subscription.retry_levels();
        assert_eq!(levels.len(), 4, "{levels:?}");
        assert_eq!(subscription.retry_level(1), 0);
        assert_eq!(subscription.retry_level(4), 2, "the second 30 s wait shares the first's queue");
        assert_eq!(subscription.retry_level(10), 3, "the last wait is the cap's level");
        // A 60 s outage, longer than the old 1 + 5 + 30 s ladder, is
        // outlasted by the first four waits.
        assert!(delays[..4].iter().sum::<Duration>() > Duration::from_secs(60));
    }

    #[test]
    fn a_short_span_keeps_the_first_steps_only() {
        assert_eq!(retry_schedule(Duration::from_secs(6)), [Duration::from_secs(1), Duration::from_secs(5)]);
        assert!(retry_schedule(Duration::ZERO).is_empty(), "no retry: dead-lettered at the first failure");
    }
}
