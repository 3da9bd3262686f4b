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
    /// Messages in flight per consumer (default 16): enough to keep a
    /// handler busy across round trips, few enough to share work between
    /// replicas.
    pub prefetch: u16,
    /// The waits between attempts; attempts = delays + 1. Default 1 s,
    /// 5 s, 30 s: a restart or failover usually fits inside, and a message
    /// that still fails after ~36 s needs a person, not another retry.
    pub retry_delays: Vec<Duration>,
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
            prefetch: 16,
            retry_delays: vec![Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(30)],
        }
    }

    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.retry_delays.len()).unwrap_or(u32::MAX - 1) + 1
    }
}

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
}

/// Header names shared by every implementation.
pub mod headers {
    /// Which attempt this delivery is, from 1.
    pub const ATTEMPT: &str = "x-attempt";
    /// Why a message was dead-lettered.
    pub const DEATH_REASON: &str = "x-death-reason";
    /// The queue (or group) that gave up on it.
    pub const DEATH_QUEUE: &str = "x-death-queue";
    pub const SOURCE: &str = "source";
    pub const SCHEMA_VERSION: &str = "schema-version";
}
