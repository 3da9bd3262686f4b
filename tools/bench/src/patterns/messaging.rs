//! The two messaging patterns, through comms on the configured broker: a
//! task queue with one worker, and an event with two subscribing services.
//! A call publishes one message (with its confirm) and resolves once the
//! worker, or both subscribers, have handled it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use comms::messaging::settings::BrokerSettings;
use comms::messaging::{
    Delivery, Destination, Envelope, Event, Handler, HandlerError, MessageBroker, OutgoingMessage, Subscription,
    SubscriptionId,
};
use futures::future::BoxFuture;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::PAYLOAD_BYTES;
use crate::load::Call;
use crate::scratch;
use crate::tick::Tick;

const QUEUE: &str = "bench-tasks";
const WORKER: &str = "bench-worker";
const SUBSCRIBERS: &[&str] = &["bench-a", "bench-b"];

pub struct Messaging {
    settings: BrokerSettings,
    broker: Arc<dyn MessageBroker>,
    waiters: Arc<Waiters>,
    subscriptions: Vec<SubscriptionId>,
    sequence: Arc<AtomicU64>,
}

impl Messaging {
    /// Connects, declares the task queue and starts the worker and both
    /// subscribers.
    pub async fn start(settings: BrokerSettings) -> anyhow::Result<Self> {
        let (broker, _) = settings.connect("bench").await.with_context(|| format!("connect to {}", settings.broker))?;
        broker.declare_task_queue(QUEUE).await?;
        let waiters = Arc::new(Waiters::default());
        let worker = Arc::new(Arrivals { waiters: waiters.clone(), name: WORKER });
        let mut subscriptions = vec![broker.subscribe(Subscription::tasks(QUEUE), worker).await?];
        for &name in SUBSCRIBERS {
            let subscriber = Arc::new(Arrivals { waiters: waiters.clone(), name });
            subscriptions.push(broker.subscribe(Subscription::events(name, &[Tick::TYPE]), subscriber).await?);
        }
        Ok(Self { settings, broker, waiters, subscriptions, sequence: Arc::default() })
    }

    pub fn task(&self) -> Call {
        self.call(Destination::Task { queue: QUEUE.into() }, &[WORKER])
    }

    pub fn event(&self) -> Call {
        self.call(Destination::Event, SUBSCRIBERS)
    }

    fn call(&self, destination: Destination, handled_by: &'static [&'static str]) -> Call {
        let (broker, waiters, sequence) = (self.broker.clone(), self.waiters.clone(), self.sequence.clone());
        Arc::new(move || {
            let tick = Tick::sized(sequence.fetch_add(1, Ordering::Relaxed), PAYLOAD_BYTES);
            let message = OutgoingMessage::from_envelope(&tick.envelope(), destination.clone(), HashMap::new());
            let (broker, waiters) = (broker.clone(), waiters.clone());
            Box::pin(async move {
                // Expected before it is published: a fast handler may be
                // done before `publish` returns.
                let handled = Waiters::expect(&waiters, message.id, handled_by);
                match broker.publish(std::slice::from_ref(&message)).await.pop() {
                    Some(Ok(())) => handled.wait().await,
                    Some(Err(error)) => Err(error.into()),
                    None => Err(anyhow::anyhow!("the broker returned no outcome")),
                }
            })
        })
    }

    /// Stops consuming. Queues expire on their own; on RabbitMQ the run's
    /// exchange, which never does, is deleted. (Kafka topics stay: comms
    /// has no call to delete one.)
    pub async fn stop(self) -> anyhow::Result<()> {
        for id in self.subscriptions {
            self.broker.unsubscribe(id).await?;
        }
        drop(self.broker);
        if self.settings.broker == "rabbitmq" {
            let exchange = scratch::comms_exchange(&self.settings.broker_namespace);
            scratch::delete_rabbit(&self.settings.amqp_url, &[], &[exchange]).await?;
        }
        Ok(())
    }
}

/// Calls waiting for their message to be handled, by message id. A std
/// mutex: it is held for a map operation, never across an await.
#[derive(Default)]
struct Waiters {
    pending: Mutex<HashMap<Uuid, Pending>>,
}

struct Pending {
    /// Handlers that have not seen the message yet.
    missing: Vec<&'static str>,
    done: oneshot::Sender<()>,
}

impl Waiters {
    fn expect(waiters: &Arc<Self>, id: Uuid, handled_by: &[&'static str]) -> Expected {
        let (done, handled) = oneshot::channel();
        let pending = Pending { missing: handled_by.to_vec(), done };
        waiters.pending.lock().expect("waiters lock").insert(id, pending);
        Expected { waiters: waiters.clone(), id, handled }
    }

    fn arrived(&self, id: Uuid, handler: &str) {
        let mut pending = self.pending.lock().expect("waiters lock");
        // Unknown: a redelivery, or a message whose call already gave up.
        let Some(waiting) = pending.get_mut(&id) else { return };
        waiting.missing.retain(|name| *name != handler);
        if waiting.missing.is_empty()
            && let Some(waiting) = pending.remove(&id)
        {
            let _ = waiting.done.send(());
        }
    }
}

/// One call's wait. Dropping it (the call timed out) forgets the message,
/// so abandoned waits do not pile up.
struct Expected {
    waiters: Arc<Waiters>,
    id: Uuid,
    handled: oneshot::Receiver<()>,
}

impl Expected {
    async fn wait(mut self) -> anyhow::Result<()> {
        (&mut self.handled).await.map_err(|_| anyhow::anyhow!("the wait was dropped"))
    }
}

impl Drop for Expected {
    fn drop(&mut self) {
        self.waiters.pending.lock().expect("waiters lock").remove(&self.id);
    }
}

/// A worker or subscriber whose work is to report each arrival.
struct Arrivals {
    waiters: Arc<Waiters>,
    name: &'static str,
}

impl Handler for Arrivals {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let envelope = Envelope::from_bytes(&delivery.body).map_err(|e| HandlerError::Permanent(e.to_string()))?;
            let _: Tick = envelope.decode().map_err(|e| HandlerError::Permanent(e.to_string()))?;
            self.waiters.arrived(envelope.id, self.name);
            Ok(())
        })
    }
}
