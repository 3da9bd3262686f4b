//! A stand-in for the rest of the system on the test's broker namespace: it
//! publishes what the order service would, and collects what inventory
//! emits.

use std::sync::{Arc, Mutex};

use comms::messaging::settings::BrokerSettings;
use comms::messaging::{
    Delivery, Destination, Envelope, Event, Handler, HandlerError, MessageBroker, OutgoingMessage, Subscription,
};
use events::{OrderCancelled, OrderLine, OrderPlaced};
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::helpers::eventually_within;

/// Everything inventory emits.
pub const INVENTORY_EVENTS: &[&str] =
    &["inventory.reserved", "inventory.rejected", "inventory.released", "inventory.low_stock"];

pub struct Probe {
    broker: Arc<dyn MessageBroker>,
    received: Arc<Mutex<Vec<Envelope>>>,
}

struct Collector(Arc<Mutex<Vec<Envelope>>>);

impl Handler for Collector {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let envelope = Envelope::from_bytes(&delivery.body).map_err(|e| HandlerError::Permanent(e.to_string()))?;
            self.0.lock().unwrap().push(envelope);
            Ok(())
        })
    }
}

impl Probe {
    /// Connects to the app's broker namespace and starts collecting. Start
    /// it before publishing, so nothing inventory emits is missed.
    pub async fn start(settings: &BrokerSettings) -> Self {
        let (broker, _) = settings.connect("probe").await.expect("probe connects");
        let received = Arc::new(Mutex::new(Vec::new()));
        broker
            .subscribe(Subscription::events("probe", INVENTORY_EVENTS), Arc::new(Collector(received.clone())))
            .await
            .expect("probe subscribes");
        Self { broker, received }
    }

    /// Publishes `event` as the order service would, returning its envelope.
    pub async fn publish<E: Event>(&self, event: &E) -> Envelope {
        let envelope = Envelope::new("order", event, None);
        self.publish_all(std::slice::from_ref(&envelope)).await;
        envelope
    }

    /// Publishes envelopes as they are (the same one twice is a duplicate).
    pub async fn publish_all(&self, envelopes: &[Envelope]) {
        let messages: Vec<OutgoingMessage> = envelopes
            .iter()
            .map(|e| OutgoingMessage::from_envelope(e, Destination::Event, Default::default()))
            .collect();
        for outcome in self.broker.publish(&messages).await {
            outcome.expect("published");
        }
    }

    /// What has arrived of `event_type` so far.
    pub fn received(&self, event_type: &str) -> Vec<Envelope> {
        self.received.lock().unwrap().iter().filter(|e| e.event_type == event_type).cloned().collect()
    }

    pub fn payloads<E: Event>(&self) -> Vec<E> {
        self.received(E::TYPE).iter().map(|e| e.decode().expect("a well-formed event")).collect()
    }

    /// Waits until `count` events of `event_type` have arrived.
    pub async fn wait_for(&self, event_type: &str, count: usize) -> Vec<Envelope> {
        self.wait_for_within(crate::helpers::DEADLINE, event_type, count).await
    }

    pub async fn wait_for_within(
        &self,
        deadline: std::time::Duration,
        event_type: &str,
        count: usize,
    ) -> Vec<Envelope> {
        let what = format!("{count} {event_type}");
        eventually_within(deadline, &what, || async { self.received(event_type).len() >= count }).await;
        self.received(event_type)
    }
}

pub fn line(sku: &str, quantity: i64) -> OrderLine {
    OrderLine { sku: sku.into(), quantity, unit_price: 1000 }
}

pub fn order_placed(lines: Vec<OrderLine>) -> OrderPlaced {
    let total = lines.iter().map(|l| l.quantity * l.unit_price).sum();
    OrderPlaced { order_id: Uuid::now_v7(), customer_id: Uuid::now_v7(), lines, total }
}

pub fn order_cancelled(placed: &OrderPlaced, previous_status: &str) -> OrderCancelled {
    OrderCancelled {
        order_id: placed.order_id,
        customer_id: placed.customer_id,
        previous_status: previous_status.into(),
        lines: placed.lines.clone(),
        total: placed.total,
    }
}
