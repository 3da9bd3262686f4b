//! What inventory consumes: `order.placed` and `order.cancelled`, routed to
//! the reservation use cases. Replicas compete on the service's one queue;
//! each runs up to the subscription's prefetch of handlers at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use comms::messaging::{EventRouter, HandlerError};
use events::{OrderCancelled, OrderPlaced};

use crate::reservations;
use crate::startup::AppState;

pub fn router(state: Arc<AppState>) -> EventRouter {
    let placed = state.clone();
    let cancelled = state;
    EventRouter::new()
        .on(move |envelope, order: OrderPlaced| {
            let state = placed.clone();
            async move { counted(&state, reservations::on_order_placed(&state, &envelope, order).await) }
        })
        .on(move |envelope, order: OrderCancelled| {
            let state = cancelled.clone();
            async move { counted(&state, reservations::on_order_cancelled(&state, &envelope, order).await) }
        })
}

/// Counts the messages this instance has handled (duplicates included), so
/// a test can see that every replica did its share.
fn counted(state: &AppState, outcome: Result<(), HandlerError>) -> Result<(), HandlerError> {
    if outcome.is_ok() {
        state.events_handled.fetch_add(1, Ordering::Relaxed);
    }
    outcome
}
