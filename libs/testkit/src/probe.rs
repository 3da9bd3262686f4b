//! An event probe: a subscriber of the test's own on the test's broker
//! namespace that records every envelope of the types it watches, and
//! publishes envelopes as another service would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use comms::messaging::settings::BrokerSettings;
use comms::messaging::{
    Delivery, Destination, Envelope, Event, Handler, HandlerError, MessageBroker, OutgoingMessage, Subscription,
};
use futures::future::BoxFuture;
use tokio::sync::Notify;

pub struct EventProbe {
    broker: Arc<dyn MessageBroker>,
    recorder: Arc<Recorder>,
}

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Envelope>>,
    arrived: Notify,
}

impl Handler for Recorder {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let envelope = Envelope::from_bytes(&delivery.body).map_err(|e| HandlerError::Permanent(e.to_string()))?;
            self.seen.lock().expect("probe lock").push(envelope);
            self.arrived.notify_waiters();
            Ok(())
        })
    }
}

impl EventProbe {
    /// Subscribes to `types` before returning, so nothing published after
    /// this is missed.
    pub async fn start(settings: &BrokerSettings, types: &[&str]) -> Self {
        let name = format!("probe-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let (broker, _) = settings.connect(&name).await.expect("probe connects to the broker");
        let recorder = Arc::new(Recorder::default());
        let mut subscription = Subscription::events(&name, types);
        subscription.retry_delays = vec![Duration::from_millis(100)];
        broker.subscribe(subscription, recorder.clone()).await.expect("probe subscribes");
        Self { broker, recorder }
    }

    /// Publishes `event` as `source` would, and returns its envelope.
    pub async fn publish<E: Event>(&self, source: &str, event: &E) -> Envelope {
        let envelope = Envelope::new(source, event, None);
        self.publish_envelope(&envelope).await;
        envelope
    }

    /// Publishes an envelope as it is (a redelivery, a late event).
    pub async fn publish_envelope(&self, envelope: &Envelope) {
        let message = OutgoingMessage::from_envelope(envelope, Destination::Event, Default::default());
        for outcome in self.broker.publish(std::slice::from_ref(&message)).await {
            outcome.expect("the broker takes the event");
        }
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Envelope> {
        self.recorder.seen.lock().expect("probe lock").clone()
    }

    /// Envelopes of `event_type` whose payload satisfies `matches`.
    pub fn seen_of<E: Event>(&self, matches: impl Fn(&E) -> bool) -> Vec<E> {
        self.seen().iter().filter_map(|e| e.decode::<E>().ok()).filter(|e| matches(e)).collect()
    }

    /// Waits up to `timeout` for `count` events of type `E` matching.
    pub async fn wait_for<E: Event>(&self, count: usize, timeout: Duration, matches: impl Fn(&E) -> bool) -> Vec<E> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.recorder.arrived.notified();
            let found = self.seen_of::<E>(&matches);
            if found.len() >= count || tokio::time::Instant::now() >= deadline {
                return found;
            }
            let _ = tokio::time::timeout_at(deadline, arrived).await;
        }
    }
}
