//! Creating and reading items: the use cases REST and gRPC share. Who may
//! see which item is decided here.

use comms::http::Caller;
use comms::messaging::{Envelope, outbox}; // new-service: publishes
use events::template::ItemCreated; // new-service: publishes
use uuid::Uuid;

use crate::SERVICE; // new-service: publishes
use crate::db;
use crate::domain::{Item, ItemName};
use crate::error::TemplateError;
use crate::state::AppState;

/// Creates an item owned by `owner_id`.
#[tracing::instrument(skip_all, fields(%owner_id))]
pub async fn create(state: &AppState, owner_id: Uuid, name: &ItemName) -> Result<Item, TemplateError> {
    let mut tx = state.db.begin().await?;
    let item = db::insert_item(&mut tx, owner_id, name).await?;
    // In the item's transaction: the event leaves only if the item exists. // new-service: publishes
    let event = ItemCreated { item_id: item.id, owner_id, name: item.name.clone() }; // new-service: publishes
    outbox::enqueue(&mut tx, &Envelope::new(SERVICE.name, &event, None)).await?; // new-service: publishes
    tx.commit().await?;
    tracing::info!(item_id = %item.id, "item created");
    Ok(item)
}

/// Any item, for other services (gRPC is internal: no caller to check).
pub async fn get(state: &AppState, id: Uuid) -> Result<Item, TemplateError> {
    let mut conn = state.db.acquire().await?;
    db::find_item(&mut conn, id).await?.ok_or(TemplateError::NotFound)
}

/// An item its owner or an admin may see. Anyone else hears 404, as for an
/// item that does not exist: what others own is not theirs to learn.
pub async fn get_for(state: &AppState, caller: &Caller, id: Uuid) -> Result<Item, TemplateError> {
    let item = get(state, id).await?;
    if caller.may_act_for(item.owner_id) { Ok(item) } else { Err(TemplateError::NotFound) }
}

/// Parses an item id from the wire; a malformed one is a field error.
pub fn parse_id(raw: &str) -> Result<Uuid, TemplateError> {
    Uuid::parse_str(raw).map_err(|_| TemplateError::invalid("id", "must be a UUID"))
}
