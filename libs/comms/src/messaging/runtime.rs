//! A service's messaging, wired the same way in every service: one broker
//! connection chosen by configuration, the outbox relay, the service's
//! subscriptions, pruning of the outbox and inbox, and an orderly stop.

use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::task::JoinHandle;

use super::broker::{BrokerError, Handler, MessageBroker, Subscription, SubscriptionId};
use super::dead_letters::DeadLetterQueues;
use super::health_checks::{BrokerReady, SubscriptionsAlive};
use super::relay::{OutboxRelay, RelayConfig};
use super::retention::{self, Retention};
use super::settings::BrokerSettings;
use crate::health::HealthCheck;
use crate::shutdown::Shutdown;

pub struct Messaging {
    broker: Arc<dyn MessageBroker>,
    dead_letters: Arc<dyn DeadLetterQueues>,
    /// One task per subscription, keeping its dead-letter gauge current.
    dead_letter_gauges: Mutex<Vec<JoinHandle<()>>>,
    dead_letter_check: std::time::Duration,
    /// `BROKER_NAMESPACE`: the gauge names a subscription as the broker does.
    namespace: String,
    system: &'static str,
    subscriptions: Mutex<Vec<SubscriptionId>>,
    relay: Mutex<Option<JoinHandle<()>>>,
    pruning: JoinHandle<()>,
    /// Stops the relay and the pruning.
    stopping: Shutdown,
    /// Every subscription's prefetch: never above the pool's size.
    prefetch: u16,
    retry_delays: Vec<std::time::Duration>,
    restore_deadline: std::time::Duration,
}

impl Messaging {
    /// Connects to the configured broker, installs the outbox and inbox
    /// tables in the service's database, and starts pruning them
    /// ([`retention`], defaults).
    pub async fn connect(settings: &BrokerSettings, service: &str, db: &PgPool) -> anyhow::Result<Self> {
        // Checked before anything connects: a prefetch above the pool is a
        // configuration error, not something to find under load.
        let prefetch = settings.prefetch(db.options().get_max_connections())?;
        super::outbox::install(db).await?;
        let (broker, dead_letters, system) = settings.connect_with_dead_letters(service).await?;
        let stopping = Shutdown::new();
        let pruning = tokio::spawn(retention::run(db.clone(), Retention::default(), stopping.clone()));
        Ok(Self {
            broker,
            dead_letters,
            dead_letter_gauges: Mutex::new(Vec::new()),
            dead_letter_check: std::time::Duration::from_secs(settings.broker_dead_letter_check_secs.max(1)),
            namespace: settings.broker_namespace.clone(),
            system,
            subscriptions: Mutex::new(Vec::new()),
            relay: Mutex::new(None),
            pruning,
            stopping,
            prefetch,
            retry_delays: settings.retry_delays(),
            restore_deadline: std::time::Duration::from_secs(settings.broker_restore_deadline_secs),
        })
    }

    pub fn broker(&self) -> &Arc<dyn MessageBroker> {
        &self.broker
    }

    /// Its readiness check (degraded while the broker or a subscription is
    /// down) and its liveness check (a subscription down past the restore
    /// deadline), for `/health` (`health_checks`).
    pub fn health(&self) -> (Arc<dyn HealthCheck>, Arc<dyn HealthCheck>) {
        let ready = Arc::new(BrokerReady(self.broker.clone()));
        let live = Arc::new(SubscriptionsAlive { broker: self.broker.clone(), deadline: self.restore_deadline });
        (ready, live)
    }

    /// `rabbitmq` or `kafka`, for spans.
    pub fn system(&self) -> &'static str {
        self.system
    }

    /// Starts relaying the outbox of `db` to the broker.
    pub fn start_relay(&self, db: PgPool) {
        let relay = OutboxRelay::new(db, self.broker.clone(), self.system, RelayConfig::default());
        let task = tokio::spawn(relay.run(self.stopping.clone()));
        *self.relay.lock().expect("relay lock") = Some(task);
    }

    /// The subscription to `types` for the service `name`, with the
    /// configured prefetch and retry schedule.
    pub fn events_subscription(&self, name: &str, types: &[&str]) -> Subscription {
        let mut subscription = Subscription::events(name, types);
        subscription.retry_delays.clone_from(&self.retry_delays);
        subscription
    }

    /// Subscribes `handler`; the prefetch is lowered to the pool's size if
    /// it is above it.
    pub async fn subscribe(
        &self,
        mut subscription: Subscription,
        handler: Arc<dyn Handler>,
    ) -> Result<SubscriptionId, BrokerError> {
        subscription.prefetch = subscription.prefetch.min(self.prefetch);
        let gauge = tokio::spawn(gauge_dead_letters(
            self.dead_letters.clone(),
            subscription.clone(),
            format!("{}{}", self.namespace, subscription.name),
            self.dead_letter_check,
            self.stopping.clone(),
        ));
        self.dead_letter_gauges.lock().expect("gauges lock").push(gauge);
        let id = self.broker.subscribe(subscription, handler).await?;
        self.subscriptions.lock().expect("subscriptions lock").push(id);
        Ok(id)
    }

    /// Stops consuming, then stops the relay after its current batch. Call
    /// after the servers have drained and before the pool closes: events
    /// written by the last requests are still relayed by the next start.
    pub async fn stop(&self) {
        let ids = std::mem::take(&mut *self.subscriptions.lock().expect("subscriptions lock"));
        for id in ids {
            if let Err(error) = self.broker.unsubscribe(id).await {
                tracing::warn!(%error, "unsubscribe failed");
            }
        }
        self.stopping.trigger();
        let relay = self.relay.lock().expect("relay lock").take();
        if let Some(relay) = relay {
            let _ = relay.await;
        }
        // Pruning stops between runs; one in progress is cut short (its
        // deletes are batches, each complete or not done).
        self.pruning.abort();
        for gauge in std::mem::take(&mut *self.dead_letter_gauges.lock().expect("gauges lock")) {
            gauge.abort();
        }
    }
}

/// Keeps `dead_letters_waiting{subscription}` at the number of the
/// subscription's dead letters, asked of the broker every `period`: a
/// dead letter is a message someone has to look at, and an alert can only
/// fire on what a metric shows.
async fn gauge_dead_letters(
    queues: Arc<dyn DeadLetterQueues>,
    subscription: Subscription,
    label: String,
    period: std::time::Duration,
    stopping: Shutdown,
) {
    let _ = stopping
        .every(period, || async {
            match queues.depth(&subscription).await {
                // Looked up at each count, not once: a handle taken before
                // the service installs its recorder (its metrics listener
                // starts after its subscriptions) would record nowhere.
                Ok(waiting) => {
                    metrics::gauge!("dead_letters_waiting", "subscription" => label.clone()).set(waiting as f64)
                }
                Err(error) => tracing::debug!(%error, subscription = %subscription.name, "dead letters not counted"),
            }
        })
        .await;
}
