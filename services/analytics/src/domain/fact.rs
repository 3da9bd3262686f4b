//! What one event tells analytics. Every event type maps to one [`Fact`];
//! the consumer records it, and every aggregate is derived from what was
//! recorded.

use events::{
    InventoryRejected, InventoryReleased, InventoryReserved, LowStock, OrderCancelled, OrderConfirmed, OrderExpired,
    OrderLine, OrderPlaced, OrderRejected, UserRegistered,
};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    /// A user registered.
    Registered { user_id: Uuid },
    /// An order reached a stage.
    Order(OrderFact),
    /// Nothing to record beyond the event itself: it counts in the
    /// per-minute series and in the events applied (inventory events).
    Counted,
}

/// What an order event says about its order. Fields an event does not
/// carry are `None` and never overwrite what another event said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderFact {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub total: Option<i64>,
    pub lines: Option<Vec<OrderLine>>,
    pub stage: Stage,
}

/// The stage an order event reports; the order's status is derived from
/// all the stages it has reached (see the migration), not from the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Placed,
    Confirmed,
    Rejected,
    Cancelled,
    Expired,
}

impl From<UserRegistered> for Fact {
    fn from(e: UserRegistered) -> Self {
        Self::Registered { user_id: e.user_id }
    }
}

impl From<OrderPlaced> for Fact {
    fn from(e: OrderPlaced) -> Self {
        Self::order(e.order_id, e.customer_id, Some((e.total, e.lines)), Stage::Placed)
    }
}

impl From<OrderConfirmed> for Fact {
    fn from(e: OrderConfirmed) -> Self {
        Self::order(e.order_id, e.customer_id, Some((e.total, e.lines)), Stage::Confirmed)
    }
}

impl From<OrderRejected> for Fact {
    fn from(e: OrderRejected) -> Self {
        Self::order(e.order_id, e.customer_id, None, Stage::Rejected)
    }
}

impl From<OrderCancelled> for Fact {
    fn from(e: OrderCancelled) -> Self {
        Self::order(e.order_id, e.customer_id, Some((e.total, e.lines)), Stage::Cancelled)
    }
}

impl From<OrderExpired> for Fact {
    fn from(e: OrderExpired) -> Self {
        Self::order(e.order_id, e.customer_id, Some((e.total, e.lines)), Stage::Expired)
    }
}

impl Fact {
    fn order(order_id: Uuid, customer_id: Uuid, priced: Option<(i64, Vec<OrderLine>)>, stage: Stage) -> Self {
        let (total, lines) = priced.map_or((None, None), |(total, lines)| (Some(total), Some(lines)));
        Self::Order(OrderFact { order_id, customer_id, total, lines, stage })
    }
}

/// Inventory events change no aggregate of their own.
macro_rules! counted {
    ($($event:ty),*) => {
        $(impl From<$event> for Fact {
            fn from(_: $event) -> Self {
                Self::Counted
            }
        })*
    };
}
counted!(InventoryReserved, InventoryRejected, InventoryReleased, LowStock);
