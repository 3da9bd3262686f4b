//! Events the order service publishes. The subject of each is the order id,
//! so every event of one order lands in one partition, in order.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i64,
    /// Minor units, as priced when the order was placed.
    pub unit_price: i64,
}

/// An order was accepted for processing (PENDING). Inventory reserves its
/// lines; the saga goes on from its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub lines: Vec<OrderLine>,
    pub total: i64,
}

/// Stock was reserved: the order is CONFIRMED.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderConfirmed {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub lines: Vec<OrderLine>,
    pub total: i64,
}

/// The order could not be fulfilled: it is REJECTED.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRejected {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub reason: String,
}

/// The customer (or an admin) cancelled the order. If it was confirmed,
/// inventory releases its reservation: the saga's compensation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    /// The status it had when cancelled: `PENDING` or `CONFIRMED`.
    pub previous_status: String,
    pub lines: Vec<OrderLine>,
    pub total: i64,
}

/// The order stayed PENDING past the saga's deadline (inventory never
/// answered it) and is closed. Inventory releases whatever it reserved for
/// it, and reserves nothing for it if its `order.placed` comes later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderExpired {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    /// Why, for people: `inventory did not answer within 3600 s`.
    pub reason: String,
    pub lines: Vec<OrderLine>,
    pub total: i64,
}

crate::event!(OrderPlaced, "order.placed", order_id);
crate::event!(OrderConfirmed, "order.confirmed", order_id);
crate::event!(OrderRejected, "order.rejected", order_id);
crate::event!(OrderCancelled, "order.cancelled", order_id);
crate::event!(OrderExpired, "order.expired", order_id);
