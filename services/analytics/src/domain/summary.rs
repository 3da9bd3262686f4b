//! The summary: every aggregate in one read model. REST serves it as JSON
//! and StreamMetrics as a `MetricsSnapshot`, so both show the same numbers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// How many skus the summary lists: enough for a dashboard's "top"
/// panel, and it keeps the summary (and each streamed snapshot) small.
pub const TOP_SKUS: i64 = 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Summary {
    /// Distinct users registered.
    pub registrations: i64,
    pub orders_by_status: OrdersByStatus,
    /// Minor units: the totals of confirmed orders not cancelled since.
    pub revenue: i64,
    /// Skus by revenue from confirmed orders not cancelled, highest first;
    /// at most 10.
    pub top_skus: Vec<SkuSales>,
    /// Distinct events applied (a redelivery is not counted again).
    pub events_applied: i64,
    /// When these numbers were read.
    pub at: DateTime<Utc>,
}

/// Orders by their current status, each counted once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "UPPERCASE")]
pub struct OrdersByStatus {
    pub pending: i64,
    pub confirmed: i64,
    pub rejected: i64,
    pub cancelled: i64,
    pub expired: i64,
}

impl OrdersByStatus {
    /// Each status with its count, named as the order service names them.
    pub fn counts(&self) -> [(&'static str, i64); 5] {
        [
            ("PENDING", self.pending),
            ("CONFIRMED", self.confirmed),
            ("REJECTED", self.rejected),
            ("CANCELLED", self.cancelled),
            ("EXPIRED", self.expired),
        ]
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct SkuSales {
    pub sku: String,
    pub units: i64,
    /// Minor units.
    pub revenue: i64,
}
