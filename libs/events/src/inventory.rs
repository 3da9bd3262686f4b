//! Events the inventory service publishes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::order::OrderLine;

/// Every line of the order is reserved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryReserved {
    pub order_id: Uuid,
    pub lines: Vec<OrderLine>,
}

/// A line that could not be reserved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortLine {
    pub sku: String,
    pub requested: i64,
    /// Stock at the time; 0 for an unknown sku.
    pub available: i64,
}

/// Nothing was reserved, because these lines were short.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryRejected {
    pub order_id: Uuid,
    pub short: Vec<ShortLine>,
}

/// A cancelled order's reservation went back into stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryReleased {
    pub order_id: Uuid,
    pub lines: Vec<OrderLine>,
}

/// A product's stock fell to or below the configured threshold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LowStock {
    pub sku: String,
    pub name: String,
    pub stock: i64,
    pub threshold: i64,
}

crate::event!(InventoryReserved, "inventory.reserved", order_id);
crate::event!(InventoryRejected, "inventory.rejected", order_id);
crate::event!(InventoryReleased, "inventory.released", order_id);
crate::event!(LowStock, "inventory.low_stock", sku);
