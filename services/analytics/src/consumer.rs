//! The event consumer: every domain event, applied exactly once.
//!
//! Each delivery runs one transaction: the inbox row, the fact, the
//! per-minute count and the change notification commit together or not
//! at all. A redelivery finds its inbox row and changes nothing, so no
//! aggregate ever counts an event twice.

use comms::messaging::{Envelope, Event, EventRouter, HandlerError, inbox};
use events::{
    InventoryRejected, InventoryReleased, InventoryReserved, LowStock, OrderCancelled, OrderConfirmed, OrderPlaced,
    OrderRejected, UserRegistered,
};
use futures::future::BoxFuture;
use sqlx::PgPool;

use crate::db;
use crate::domain::Fact;

/// The consumer's name in the inbox and on the broker (its queue).
pub const CONSUMER: &str = "analytics";

/// Routes every event type in `events::ALL_TYPES` (a unit test keeps the
/// two lists equal).
pub fn router(db: PgPool) -> EventRouter {
    EventRouter::new()
        .on(record::<UserRegistered>(&db))
        .on(record::<OrderPlaced>(&db))
        .on(record::<OrderConfirmed>(&db))
        .on(record::<OrderRejected>(&db))
        .on(record::<OrderCancelled>(&db))
        .on(record::<InventoryReserved>(&db))
        .on(record::<InventoryRejected>(&db))
        .on(record::<InventoryReleased>(&db))
        .on(record::<LowStock>(&db))
}

/// A handler that turns the event into its [`Fact`] and applies it.
fn record<E>(
    db: &PgPool,
) -> impl Fn(Envelope, E) -> BoxFuture<'static, Result<(), HandlerError>> + Send + Sync + 'static
where
    E: Event + Into<Fact>,
{
    let db = db.clone();
    move |envelope, event| {
        let db = db.clone();
        Box::pin(async move { apply(&db, &envelope, event.into()).await.map_err(classify) })
    }
}

/// Every failure here is the database's. Most are worth retrying (a
/// restart, a lost connection); a data exception (SQLSTATE class 22, such
/// as a NUL character in a sku, which jsonb cannot hold) fails the same way
/// every time, so it is dead-lettered at once instead of after the retries.
fn classify(error: sqlx::Error) -> HandlerError {
    match &error {
        sqlx::Error::Database(db) if db.code().is_some_and(|code| code.starts_with("22")) => {
            HandlerError::Permanent(error.to_string())
        }
        _ => HandlerError::Transient(error.to_string()),
    }
}

/// Applies `fact` unless this envelope was applied before. Every time is
/// the envelope's, not ours: a late event counts where it happened.
#[tracing::instrument(skip_all, fields(event_id = %envelope.id, event_type = %envelope.event_type))]
pub async fn apply(db: &PgPool, envelope: &Envelope, fact: Fact) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    if !inbox::first_delivery(&mut tx, CONSUMER, envelope.id).await? {
        tracing::debug!("duplicate delivery ignored");
        return Ok(()); // dropping the transaction rolls it back
    }
    match &fact {
        Fact::Registered { user_id } => db::record_registration(&mut tx, *user_id, envelope.time).await?,
        Fact::Order(order) => db::record_order(&mut tx, order, envelope.time).await?,
        Fact::Counted => {}
    }
    db::count_event(&mut tx, &envelope.event_type, envelope.time).await?;
    db::notify_changed(&mut tx).await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_consumer_handles_every_domain_event_type() {
        // A new event type in `events` fails here until analytics counts it.
        let handled = super::router(sqlx::PgPool::connect_lazy("postgres://unused").unwrap()).types();
        let mut all = events::ALL_TYPES.to_vec();
        all.sort_unstable();
        assert_eq!(handled, all);
    }
}
