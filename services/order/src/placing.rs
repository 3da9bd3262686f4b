//! Placing an order: the saga's first step, safe to retry with an
//! `Idempotency-Key`.
//!
//! One transaction does everything, in this order:
//!
//! 1. take the advisory lock of (customer, key), so requests with the same
//!    key run one after another, never side by side;
//! 2. look for the key's record: the same request → replay its answer; a
//!    different request → 422;
//! 3. check the customer and price the lines over gRPC (one deadline);
//! 4. write the order (PENDING), its lines, the key's record with the
//!    answer, and the `order.placed` outbox row; commit.
//!
//! Any failure before the commit rolls all of it back: no order, no event,
//! no record, so a retry with the same key starts afresh.

use comms::messaging::{Envelope, outbox};
use events::OrderPlaced;
use uuid::Uuid;

use crate::db;
use crate::domain::{IdempotencyKey, OrderRequest};
use crate::error::OrderError;
use crate::idempotency::{self, Recorded, StoredResponse};
use crate::state::AppState;

/// The answer to a placement, and whether it is a replay.
#[derive(Debug)]
pub enum Placed {
    Created(StoredResponse),
    Replayed(StoredResponse),
}

#[tracing::instrument(skip_all, fields(%customer_id, idempotency_key = key.as_str()))]
pub async fn place_order(
    state: &AppState,
    customer_id: Uuid,
    key: &IdempotencyKey,
    request: &OrderRequest,
) -> Result<Placed, OrderError> {
    let canonical = request.canonical();
    let mut tx = state.db.begin().await?;
    // Why the lock is taken before the remote calls, in the transaction:
    // ten identical requests racing must make one order. Whoever takes the
    // lock first places it; the others wait here, then find its record at
    // step 2 and replay it. The cost is one pooled connection held (idle in
    // transaction) across the user and inventory calls: at most the
    // upstream deadline per placement, and at most the pool size of
    // placements in flight at once. In exchange there is no "in progress"
    // state to expire and no 409 for a client that merely retried early.
    idempotency::lock(&mut tx, customer_id, key).await?;
    match idempotency::find(&mut tx, customer_id, key, &canonical).await? {
        Recorded::Same(response) => {
            tracing::info!(order_id = %response.order_id, "idempotent replay");
            return Ok(Placed::Replayed(response));
        }
        Recorded::Different => return Err(OrderError::KeyReused),
        Recorded::Nothing => {}
    }

    let prices = state.upstreams.check_and_price(customer_id, request).await?;
    let priced = request.price(&prices)?;

    let order = db::insert_order(&mut tx, customer_id, &priced).await?;
    let body = serde_json::to_string(&order).map_err(anyhow::Error::from)?;
    let response = StoredResponse { status: 201, body, order_id: order.id };
    idempotency::record(&mut tx, customer_id, key, &canonical, &response).await?;
    let event = OrderPlaced { order_id: order.id, customer_id, lines: order.event_lines(), total: order.total };
    outbox::enqueue(&mut tx, &Envelope::new("order", &event, None)).await?;
    tx.commit().await?;
    tracing::info!(order_id = %order.id, total = order.total, "order placed");
    Ok(Placed::Created(response))
}
