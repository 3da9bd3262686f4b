//! The event of the template service (template/), the crate `just
//! new-service` copies. A generated service gets a file like this one of its
//! own, in its own namespace.
//!
//! Not in [`ALL_TYPES`](crate::ALL_TYPES): that list is the running
//! system's, and the template is built and tested but never run (analytics,
//! which handles every type in the list, would count an event no one sends).
//! Nor re-exported at the crate root: a generated service may publish an
//! `ItemCreated` of its own, which takes that name there.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An item was created. Carries the whole item, so a consumer needs no call
/// back for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCreated {
    pub item_id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
}

crate::event!(ItemCreated, "template.item_created", item_id);
