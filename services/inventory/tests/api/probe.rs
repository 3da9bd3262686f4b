//! A stand-in for the rest of the system on the test's broker namespace: it
//! publishes what the order service would, and collects what inventory
//! emits.

use comms::messaging::settings::BrokerSettings;
use comms::messaging::{Envelope, Event};
use events::{OrderCancelled, OrderExpired, OrderLine, OrderPlaced};
use testkit::EventProbe;
use uuid::Uuid;

use crate::helpers::eventually_within;

/// Everything inventory emits.
pub const INVENTORY_EVENTS: &[&str] =
    &["inventory.reserved", "inventory.rejected", "inventory.released", "inventory.low_stock"];

/// The test kit's probe, speaking as the order service and reading by type.
pub struct Probe(EventProbe);

impl Probe {
    /// Connects to the app's broker namespace and starts collecting. Start
    /// it before publishing, so nothing inventory emits is missed.
    pub async fn start(settings: &BrokerSettings) -> Self {
        Self(EventProbe::start(settings, INVENTORY_EVENTS).await)
    }

    /// Publishes `event` as the order service would, returning its envelope.
    pub async fn publish<E: Event>(&self, event: &E) -> Envelope {
        self.0.publish("order", event).await
    }

    /// Publishes envelopes as they are (the same one twice is a duplicate).
    pub async fn publish_all(&self, envelopes: &[Envelope]) {
        for envelope in envelopes {
            self.0.publish_envelope(envelope).await;
        }
    }

    /// What has arrived of `event_type` so far.
    pub fn received(&self, event_type: &str) -> Vec<Envelope> {
        self.0.seen().into_iter().filter(|e| e.event_type == event_type).collect()
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

/// What the order service announces when `placed` passes the saga's deadline.
pub fn order_expired(placed: &OrderPlaced) -> OrderExpired {
    OrderExpired {
        order_id: placed.order_id,
        customer_id: placed.customer_id,
        reason: "inventory did not answer within 2 s".into(),
        lines: placed.lines.clone(),
        total: placed.total,
    }
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
