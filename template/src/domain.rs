//! The service's domain: an item, and its name, parsed once at the edge and
//! trusted afterwards.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An item as it is stored and served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Item {
    pub id: Uuid,
    #[schema(example = "First item")]
    pub name: String,
    /// The user who created it; only they (or an admin) may read it.
    pub owner_id: Uuid,
    pub created_at: DateTime<Utc>,
}

comms::checked_text! {
    /// An item's name: at most 100 characters as sent, something other than
    /// white space, no control characters; stored trimmed
    /// (`comms::validate::display_name`).
    pub struct ItemName = display_name(100);
}
