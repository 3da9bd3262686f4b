use serde::Serialize;
use utoipa::ToSchema;

/// Where an order is in the saga. PENDING until inventory answers; then
/// CONFIRMED or REJECTED, or EXPIRED if no answer comes before the saga's
/// deadline (`expiry`). PENDING and CONFIRMED orders may be CANCELLED.
/// REJECTED, CANCELLED and EXPIRED are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Rejected,
    Cancelled,
    Expired,
}

impl OrderStatus {
    /// The stored and wire name (the table's CHECK lists the same five).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Confirmed => "CONFIRMED",
            Self::Rejected => "REJECTED",
            Self::Cancelled => "CANCELLED",
            Self::Expired => "EXPIRED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Confirmed, Self::Rejected, Self::Cancelled, Self::Expired]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// A cancellation is possible until the order is final. Cancelling a
    /// CONFIRMED order is the saga's compensation: inventory releases the
    /// stock it reserved.
    pub fn can_cancel(self) -> bool {
        matches!(self, Self::Pending | Self::Confirmed)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
