//! The order domain: values parsed once at the edge and trusted afterwards,
//! and the order itself with the moves its status may make.

mod idempotency_key;
mod order_request;
mod quantity;
mod sku;
mod status;

pub use idempotency_key::IdempotencyKey;
pub use order_request::{OrderRequest, Priced};
pub use quantity::Quantity;
pub use sku::Sku;
pub use status::OrderStatus;

use comms::error::FieldViolation;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An order as it is stored, served over REST and described in events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub status: OrderStatus,
    /// In sku order.
    pub lines: Vec<Line>,
    /// Minor units (cents): the sum of quantity × unit price.
    pub total: i64,
    /// Why inventory rejected the order; only on REJECTED orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// One product of an order, priced when the order was placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Line {
    pub sku: String,
    pub quantity: i64,
    /// Minor units (cents).
    pub unit_price: i64,
}

impl Order {
    /// The lines as events carry them.
    pub fn event_lines(&self) -> Vec<events::OrderLine> {
        self.lines
            .iter()
            .map(|l| events::OrderLine { sku: l.sku.clone(), quantity: l.quantity, unit_price: l.unit_price })
            .collect()
    }
}

/// Parses one field, collecting its violation instead of stopping, so a
/// client learns about every bad field in one round trip.
pub fn field<T>(name: &str, parsed: Result<T, String>, violations: &mut Vec<FieldViolation>) -> Option<T> {
    parsed.map_err(|reason| violations.push(FieldViolation::new(name, reason))).ok()
}
