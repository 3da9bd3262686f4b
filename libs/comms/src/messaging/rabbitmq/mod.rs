//! RabbitMQ behind the `MessageBroker` trait (lapin).
//!
//! Topology, for a subscription named `inventory`:
//!
//! | what | name | kind |
//! |---|---|---|
//! | domain events | exchange `domain-events` | topic, durable; routing key = event type |
//! | the service's events | `inventory.events` | quorum queue bound to each handled type; dead-letters to `inventory.dlq` past the delivery limit, at least once |
//! | a task queue | `notification.delivery` | the same, published to through its direct exchange |
//! | retries | `inventory.retry.1` .. `.N` | one per distinct delay (`Subscription::retry_levels`): TTL, then back to the main queue |
//! | dead letters | `inventory.dlq` | quorum queue, no delivery limit; reason in `x-death-reason` |
//! | moves between them | exchange `inventory.direct` | direct; each queue above bound by its own name |
//!
//! Nothing goes through the default exchange: it reaches every queue by
//! name, and a broker user confined to its own names could not be allowed
//! it (deploy/rabbitmq/init.sh, docs/patterns/identity.md).
//!
//! Attempts are counted in our own `x-attempt` header, not by the broker,
//! so retries behave the same on RabbitMQ 3.x and 4.x (whose quorum queues
//! differ in their default delivery limits). The delivery limit is set
//! explicitly and bounds only redeliveries (a consumer that dies on a
//! message). A queue an earlier release declared with other arguments is
//! replaced, its messages kept (`migrate`).
//!
//! The connection is supervised: on loss, it reconnects with backoff
//! (100 ms doubling to 5 s). So is each subscription, on its own
//! (`consumer::start`): a consumer that ends for any reason (its queue
//! deleted, its channel or connection closed, a redeclare refused) is
//! logged with the cause, reported to [`Consumption`], and started again on
//! the live connection with its queues declared again, with back-off.
//! Publishes in flight when the link drops fail (their confirm never comes)
//! and are retried by the outbox.

mod amqp;
mod consumer;
mod dead_letters;
mod migrate;
mod topology;

/// The AMQP properties and headers a message is published with, for tools
/// that publish beside the broker (the benchmark's raw-lapin side sends
/// exactly what this broker sends, so only the client differs).
pub use amqp::properties as message_properties;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Channel, Confirmation, Connection, ConnectionProperties, Event};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::broker::{
    BrokerError, Destination, Handler, MessageBroker, OutgoingMessage, PublishError, Subscription, SubscriptionId,
};
use super::consuming::Consuming;
use super::consumption::Consumption;

/// [`RabbitConfig::delivery_limit`]'s default.
pub const DEFAULT_DELIVERY_LIMIT: u32 = 20;

#[derive(Clone, Debug)]
pub struct RabbitConfig {
    /// `amqp://guest:guest@127.0.0.1:5672/%2f`. A heartbeat of 5 s is added
    /// unless the URI sets one, so a silent link is noticed within seconds.
    pub uri: String,
    /// The domain-events exchange (default `domain-events`).
    pub exchange: String,
    /// Name of the connection in the management UI.
    pub connection_name: String,
    /// Queues unused this long are deleted by the broker. For tests, whose
    /// names are unique per run; `None` in production.
    pub queue_expiry: Option<Duration>,
    /// Delete the exchange when its last binding goes (tests).
    pub exchange_auto_delete: bool,
    /// Prepended to every queue name: one namespace per system on a shared
    /// broker (tests run many systems side by side). Empty in production.
    pub prefix: String,
    /// Deliveries of one message, from a main or task queue, after which
    /// the broker dead-letters it (default 20, RabbitMQ 4's own default):
    /// a message that kills or hangs its handler every time stops there.
    /// Our handlers' failures are counted by `x-attempt`, not by this.
    pub delivery_limit: u32,
}

impl RabbitConfig {
    pub fn new(uri: impl Into<String>, connection_name: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            exchange: "domain-events".into(),
            connection_name: connection_name.into(),
            queue_expiry: None,
            exchange_auto_delete: false,
            prefix: String::new(),
            delivery_limit: DEFAULT_DELIVERY_LIMIT,
        }
    }

    fn queue(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn uri_with_heartbeat(&self) -> String {
        if self.uri.contains("heartbeat=") {
            self.uri.clone()
        } else if self.uri.contains('?') {
            format!("{}&heartbeat=5", self.uri)
        } else {
            format!("{}?heartbeat=5", self.uri)
        }
    }
}

/// One live connection and the channel publishes go through.
#[derive(Clone)]
struct Live {
    connection: Arc<Connection>,
    publisher: Channel,
    /// One batch at a time per channel: RabbitMQ's returns are matched to
    /// confirms loosely, so two interleaved batches could swap them.
    publishing: Arc<tokio::sync::Mutex<()>>,
}

/// A message and where it goes.
struct Routed<'a> {
    exchange: String,
    routing_key: String,
    message: &'a OutgoingMessage,
}

struct Registered {
    consuming: Option<Consuming>,
}

pub struct RabbitBroker {
    config: RabbitConfig,
    live: watch::Sender<Option<Live>>,
    subscriptions: Arc<Mutex<HashMap<u64, Registered>>>,
    next_id: AtomicU64,
    supervisor: JoinHandle<()>,
    consumption: Consumption,
}

impl Drop for RabbitBroker {
    fn drop(&mut self) {
        self.supervisor.abort();
        for registered in self.subscriptions.lock().expect("subscriptions lock").values_mut() {
            if let Some(consuming) = registered.consuming.take() {
                consuming.abort();
            }
        }
    }
}

impl RabbitBroker {
    /// Starts the connection supervisor and waits (up to 10 s) for the
    /// first connection, so a misconfigured URI fails start-up loudly.
    pub async fn connect(config: RabbitConfig) -> Result<Arc<Self>, BrokerError> {
        let (live, mut watching) = watch::channel(None);
        let subscriptions = Arc::new(Mutex::new(HashMap::new()));
        let supervisor = tokio::spawn(supervise(config.clone(), live.clone()));
        let consumption = Consumption::default();
        let broker =
            Arc::new(Self { config, live, subscriptions, next_id: AtomicU64::new(1), supervisor, consumption });
        let connected = tokio::time::timeout(Duration::from_secs(10), watching.wait_for(Option::is_some)).await;
        match connected {
            Ok(Ok(_)) => Ok(broker),
            _ => Err(BrokerError::Unavailable(format!(
                "no connection to {} within 10 s",
                without_password(&broker.config.uri)
            ))),
        }
    }

    pub fn is_connected(&self) -> bool {
        self.live.borrow().as_ref().is_some_and(|l| l.connection.status().connected())
    }

    /// The live connection, waiting briefly through a reconnect.
    async fn live(&self, wait: Duration) -> Option<Live> {
        let mut watching = self.live.subscribe();
        tokio::time::timeout(wait, watching.wait_for(Option::is_some)).await.ok()?.ok()?.clone()
    }

    /// Publishes with confirms and `mandatory`; routes to the exchange or,
    /// for tasks and internal moves, to a queue by name.
    async fn publish_routed(&self, messages: &[Routed<'_>]) -> Vec<Result<(), PublishError>> {
        let Some(live) = self.live(Duration::from_secs(5)).await else {
            return messages.iter().map(|_| Err(PublishError::Unavailable("not connected".into()))).collect();
        };
        let _one_batch = live.publishing.lock().await;
        let mut confirms = Vec::with_capacity(messages.len());
        for Routed { exchange, routing_key, message } in messages {
            let properties = amqp::properties(message, 1, &[]);
            let options = BasicPublishOptions { mandatory: true, ..Default::default() };
            let sent = live
                .publisher
                .basic_publish(
                    exchange.as_str().into(),
                    routing_key.as_str().into(),
                    options,
                    &message.body,
                    properties,
                )
                .await;
            confirms.push(sent);
        }
        // Await every confirm first: a return may ride on any of them.
        let mut returned = std::collections::HashSet::new();
        let mut outcomes = Vec::with_capacity(confirms.len());
        for sent in confirms {
            let outcome = match sent {
                Err(e) => Err(PublishError::Unavailable(e.to_string())),
                Ok(confirm) => match confirm.await {
                    Ok(Confirmation::Ack(ret)) => {
                        if let Some(ret) = ret {
                            returned.extend(ret.properties.message_id().as_ref().map(|id| id.to_string()));
                        }
                        Ok(())
                    }
                    Ok(Confirmation::Nack(ret)) => {
                        if let Some(ret) = ret {
                            returned.extend(ret.properties.message_id().as_ref().map(|id| id.to_string()));
                        }
                        Err(PublishError::Nacked)
                    }
                    Ok(Confirmation::NotRequested) => Ok(()),
                    Err(e) => Err(PublishError::Unavailable(e.to_string())),
                },
            };
            outcomes.push(outcome);
        }
        // A publish the broker refuses (an exchange that does not exist, one
        // this user may not write to) closes the channel: the next batch
        // gets a new one.
        if !live.publisher.status().connected() {
            self.replace_publisher(&live).await;
        }
        outcomes
            .into_iter()
            .zip(messages)
            .map(|(outcome, Routed { routing_key, message, .. })| {
                if returned.contains(&message.id.to_string()) {
                    Err(PublishError::Unroutable(routing_key.clone()))
                } else {
                    outcome
                }
            })
            .collect()
    }

    async fn replace_publisher(&self, closed: &Live) {
        let channel = match publisher(&closed.connection).await {
            Ok(channel) => channel,
            Err(error) => {
                tracing::warn!(%error, "cannot reopen the publishing channel");
                return;
            }
        };
        tracing::warn!("the broker closed the publishing channel; publishing on a new one");
        self.live.send_if_modified(|current| match current {
            Some(live) if Arc::ptr_eq(&live.connection, &closed.connection) => {
                live.publisher = channel;
                true
            }
            _ => false,
        });
    }

    /// The live connection (waiting briefly through a reconnect) and a new
    /// channel on it, for declaring topology or consuming.
    async fn connected_now(&self) -> Result<Live, BrokerError> {
        self.live(Duration::from_secs(10)).await.ok_or_else(|| BrokerError::Unavailable("not connected".into()))
    }

    fn route(&self, message: &OutgoingMessage) -> (String, String) {
        match &message.destination {
            Destination::Event => (self.config.exchange.clone(), message.event_type.clone()),
            Destination::Task { queue } => {
                let queue = self.config.queue(queue);
                (amqp::direct_exchange(&queue), queue)
            }
        }
    }
}

impl MessageBroker for RabbitBroker {
    fn publish<'a>(&'a self, messages: &'a [OutgoingMessage]) -> BoxFuture<'a, Vec<Result<(), PublishError>>> {
        Box::pin(async move {
            let routed: Vec<Routed<'_>> = messages
                .iter()
                .map(|message| {
                    let (exchange, routing_key) = self.route(message);
                    Routed { exchange, routing_key, message }
                })
                .collect();
            self.publish_routed(&routed).await
        })
    }

    fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>> {
        Box::pin(async move {
            let subscription = Subscription { name: self.config.queue(&subscription.name), ..subscription };
            let live = self.connected_now().await?;
            topology::declare_subscription(&live.connection, &self.config, &subscription)
                .await
                .map_err(|e| BrokerError::Refused(e.to_string()))?;
            let channel =
                live.connection.create_channel().await.map_err(|e| BrokerError::Unavailable(e.to_string()))?;
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let consuming = consumer::start(
                self.live.subscribe(),
                self.config.clone(),
                (live, channel),
                &subscription,
                handler,
                self.consumption.clone(),
            );
            self.subscriptions
                .lock()
                .expect("subscriptions lock")
                .insert(id, Registered { consuming: Some(consuming) });
            Ok(SubscriptionId(id))
        })
    }

    fn unsubscribe(&self, id: SubscriptionId) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            if let Some(mut registered) = self.subscriptions.lock().expect("subscriptions lock").remove(&id.0)
                && let Some(consuming) = registered.consuming.take()
            {
                consuming.stop();
            }
            Ok(())
        })
    }

    fn declare_task_queue<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            let live = self.connected_now().await?;
            topology::declare_task_queue(&live.connection, &self.config, &self.config.queue(queue))
                .await
                .map_err(|e| BrokerError::Refused(e.to_string()))
        })
    }

    fn consumption(&self) -> Consumption {
        self.consumption.clone()
    }

    fn connected(&self) -> bool {
        self.is_connected()
    }
}

/// The URI with its password masked, for messages: an error that reaches a
/// log must not carry the credential (AMQP_PASSWORD_FILE puts it in the URI).
fn without_password(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else { return uri.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        None => uri.to_owned(),
    }
}

/// Keeps one connection alive: connect, declare the exchange, wait for the
/// loss, and again. Each subscription's own supervisor
/// (`consumer::start`) sees the new connection and resumes on it.
async fn supervise(config: RabbitConfig, live: watch::Sender<Option<Live>>) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        match open(&config).await {
            Ok((current, events)) => {
                backoff = Duration::from_millis(100);
                if !first {
                    tracing::info!(connection = %config.connection_name, "reconnected to RabbitMQ");
                }
                first = false;
                live.send_replace(Some(current.clone()));
                wait_for_loss(&current.connection, events).await;
                live.send_replace(None);
                tracing::warn!(connection = %config.connection_name, "lost the RabbitMQ connection; reconnecting");
                metrics::counter!("broker_reconnects_total", "system" => "rabbitmq").increment(1);
            }
            Err(error) => {
                tracing::warn!(connection = %config.connection_name, %error, retry_in_ms = backoff.as_millis() as u64, "cannot connect to RabbitMQ");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

type Events = std::pin::Pin<Box<dyn futures::Stream<Item = Event> + Send>>;

async fn open(config: &RabbitConfig) -> lapin::Result<(Live, Events)> {
    let properties = ConnectionProperties::default().with_connection_name(config.connection_name.as_str().into());
    let connection = Connection::connect(&config.uri_with_heartbeat(), properties).await?;
    // Listen before anything can fail: events sent with no listener are lost.
    let events: Events = Box::pin(connection.events_listener());
    amqp::ensure_exchange(&connection, config).await?;
    let publisher = publisher(&connection).await?;
    Ok((Live { connection: Arc::new(connection), publisher, publishing: Arc::default() }, events))
}

/// A channel with publisher confirms.
async fn publisher(connection: &Connection) -> lapin::Result<Channel> {
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(channel)
}

async fn wait_for_loss(connection: &Connection, mut events: Events) {
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Event::Error(_)) if !connection.status().connected() => return,
                None => return,
                _ => {}
            },
            // Belt and braces: some failures surface only in the status.
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if !connection.status().connected() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn a_uri_in_a_message_never_carries_its_password() {
        assert_eq!(
            without_password("amqp://order:s3cret%40x@rabbitmq:5672/%2f?heartbeat=5"),
            "amqp://order:***@rabbitmq:5672/%2f?heartbeat=5"
        );
        assert_eq!(without_password("amqp://guest@127.0.0.1:5672/%2f"), "amqp://guest:***@127.0.0.1:5672/%2f");
        assert_eq!(without_password("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
    }
}
