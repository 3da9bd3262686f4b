//! The event consumer: every domain event, applied exactly once.
//!
//! Each delivery runs in the transaction the library opens for it: the
//! inbox row, the fact, the per-minute count and the change notification
//! commit together or not at all. A redelivery finds its inbox row and
//! never reaches [`record`], so no aggregate counts an event twice. A
//! database error is retried or, when retrying cannot help (a NUL in a sku,
//! which jsonb cannot hold), dead-lettered at once: `comms::db` classifies.

use std::sync::Arc;

use comms::messaging::{Envelope, Event, EventRouter, HandlerError};
use events::{
    InventoryRejected, InventoryReleased, InventoryReserved, LowStock, OrderCancelled, OrderConfirmed, OrderExpired,
    OrderPlaced, OrderRejected, UserRegistered,
};
use sqlx::PgConnection;

use crate::db;
use crate::domain::Fact;

/// Routes every event type in `events::ALL_TYPES` (a unit test keeps the
/// two lists equal). The facts need nothing but their transaction.
pub fn router() -> EventRouter<()> {
    EventRouter::with_state(Arc::new(()))
        .on(record::<UserRegistered>)
        .on(record::<OrderPlaced>)
        .on(record::<OrderConfirmed>)
        .on(record::<OrderRejected>)
        .on(record::<OrderCancelled>)
        .on(record::<OrderExpired>)
        .on(record::<InventoryReserved>)
        .on(record::<InventoryRejected>)
        .on(record::<InventoryReleased>)
        .on(record::<LowStock>)
}

/// Turns the event into its [`Fact`] and applies it. Every time is the
/// envelope's, not ours: a late event counts where it happened.
#[tracing::instrument(skip_all, fields(event_id = %envelope.id, event_type = %envelope.event_type))]
async fn record<E: Event + Into<Fact>>(
    _: &(),
    tx: &mut PgConnection,
    envelope: &Envelope,
    event: E,
) -> Result<(), HandlerError> {
    match event.into() {
        Fact::Registered { user_id } => db::record_registration(tx, user_id, envelope.time).await?,
        Fact::Order(order) => db::record_order(tx, &order, envelope.time).await?,
        Fact::Counted => {}
    }
    db::count_event(tx, &envelope.event_type, envelope.time).await?;
    db::notify_changed(tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_consumer_handles_every_domain_event_type() {
        // A new event type in `events` fails here until analytics counts it.
        let handled = super::router().types();
        let mut all = events::ALL_TYPES.to_vec();
        all.sort_unstable();
        assert_eq!(handled, all);
    }
}
