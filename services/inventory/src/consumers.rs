//! What inventory consumes: `order.placed`, `order.cancelled` and
//! `order.expired`, routed to the reservation use cases. Replicas compete on
//! the service's one queue; each runs up to the subscription's prefetch of
//! handlers at once.

use std::sync::Arc;

use comms::messaging::EventRouter;

use crate::reservations;
use crate::state::AppState;

pub(crate) fn router(state: Arc<AppState>) -> EventRouter<AppState> {
    let handled = state.events_handled.clone();
    EventRouter::with_state(state)
        .on(reservations::on_order_placed)
        .on(reservations::on_order_cancelled)
        .on(reservations::on_order_expired)
        .count_settled(handled)
}
