//! The inventory domain: values parsed once at the edge and trusted
//! afterwards, and the product as the rest of the service sees it.

mod price;
mod product_name;
mod quantity;
mod sku;

pub use price::Price;
pub use product_name::ProductName;
pub use quantity::{InitialStock, Quantity};
pub use sku::Sku;

use comms::error::FieldViolation;

/// A product and its stock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// Minor units.
    pub price: i64,
    /// Units available to reserve; never negative (the schema says so).
    pub stock: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Parses one field, collecting its violation instead of stopping, so a
/// client learns about every bad field in one round trip.
pub fn field<T>(name: &str, parsed: Result<T, String>, violations: &mut Vec<FieldViolation>) -> Option<T> {
    parsed.map_err(|reason| violations.push(FieldViolation::new(name, reason))).ok()
}
