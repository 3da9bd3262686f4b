//! Reading and cancelling orders: the use cases REST and gRPC share. Each
//! answers with an [`OrderError`]; who may see which order is decided here.

use comms::http::Caller;
use comms::messaging::{Envelope, outbox};
use events::OrderCancelled;
use uuid::Uuid;

use crate::db;
use crate::domain::{Order, OrderStatus};
use crate::error::OrderError;
use crate::state::AppState;

/// Any order, for other services (gRPC is internal: no caller to check).
pub async fn get(state: &AppState, id: Uuid) -> Result<Order, OrderError> {
    let mut conn = state.db.acquire().await?;
    db::find_order(&mut conn, id).await?.ok_or(OrderError::NotFound)
}

/// An order its customer or an admin may see. Anyone else hears 404, as
/// for an order that does not exist: whether someone else bought
/// something is not theirs to learn.
pub async fn get_for(state: &AppState, caller: &Caller, id: Uuid) -> Result<Order, OrderError> {
    let order = get(state, id).await?;
    if caller.may_act_for(order.customer_id) { Ok(order) } else { Err(OrderError::NotFound) }
}

/// One page of the caller's own orders, newest first.
pub async fn list_mine(
    state: &AppState,
    caller: &Caller,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Order>, OrderError> {
    let mut conn = state.db.acquire().await?;
    Ok(db::list_orders(&mut conn, caller.user_id, before, limit).await?)
}

/// Cancels a PENDING or CONFIRMED order and announces `order.cancelled`
/// in the same transaction; inventory releases any reservation on it.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn cancel(state: &AppState, caller: &Caller, id: Uuid) -> Result<Order, OrderError> {
    let mut tx = state.db.begin().await?;
    // Locked: a cancellation and inventory's answer never interleave.
    let order = db::lock_order(&mut tx, id).await?.ok_or(OrderError::NotFound)?;
    if !caller.may_act_for(order.customer_id) {
        return Err(OrderError::NotFound);
    }
    if !order.status.can_cancel() {
        return Err(OrderError::NotCancellable(order.status));
    }
    let previous = order.status;
    let order = db::set_status(&mut tx, order, OrderStatus::Cancelled, None).await?;
    let event = OrderCancelled {
        order_id: order.id,
        customer_id: order.customer_id,
        previous_status: previous.as_str().to_owned(),
        lines: order.event_lines(),
        total: order.total,
    };
    outbox::enqueue(&mut tx, &Envelope::new("order", &event, None)).await?;
    tx.commit().await?;
    tracing::info!(%previous, "order cancelled");
    Ok(order)
}

/// Parses an order id from the wire; a malformed one is a field error.
pub fn parse_id(raw: &str) -> Result<Uuid, OrderError> {
    Uuid::parse_str(raw).map_err(|_| OrderError::invalid("id", "must be a UUID"))
}
