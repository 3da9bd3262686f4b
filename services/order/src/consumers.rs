//! Inventory's answers to `order.placed`, which settle a PENDING order:
//! `inventory.reserved` confirms it, `inventory.rejected` rejects it.
//!
//! Each delivery is applied in one transaction with its inbox row and the
//! event it causes (`order.confirmed` / `order.rejected`, with the incoming
//! envelope as causation), so a redelivery changes nothing and an event is
//! emitted exactly when the status changes. Only a PENDING order moves: one
//! cancelled meanwhile stays CANCELLED (its `order.cancelled` already told
//! inventory to release the stock).

use comms::messaging::{Envelope, EventRouter, HandlerError, inbox, outbox};
use events::{InventoryRejected, InventoryReserved, OrderConfirmed, OrderRejected, ShortLine};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;
use crate::domain::OrderStatus;

/// The name this service's inbox rows are recorded under.
const CONSUMER: &str = "order";

/// The handlers, by event type: subscribe with `router.types()`.
pub fn router(db: PgPool) -> EventRouter {
    let for_rejections = db.clone();
    EventRouter::new()
        .on::<InventoryReserved, _, _>(move |envelope, event| {
            let db = db.clone();
            async move { settle(&db, &envelope, event.order_id, Verdict::Confirm).await }
        })
        .on::<InventoryRejected, _, _>(move |envelope, event| {
            let db = for_rejections.clone();
            async move { settle(&db, &envelope, event.order_id, Verdict::Reject(rejection_reason(&event.short))).await }
        })
}

enum Verdict {
    Confirm,
    Reject(String),
}

#[tracing::instrument(skip_all, fields(%order_id, event_id = %envelope.id, event_type = %envelope.event_type))]
async fn settle(db: &PgPool, envelope: &Envelope, order_id: Uuid, verdict: Verdict) -> Result<(), HandlerError> {
    let mut tx = db.begin().await.map_err(transient)?;
    if !inbox::first_delivery(&mut tx, CONSUMER, envelope.id).await.map_err(transient)? {
        tracing::info!("duplicate delivery ignored");
        return Ok(());
    }
    let Some(order) = db::lock_order(&mut tx, order_id).await.map_err(transient)? else {
        // order.placed is relayed only after the order commits, so an
        // answer about an unknown order is a bug somewhere: keep it for a
        // person (dead letter) rather than retry it.
        return Err(HandlerError::Permanent(format!("no order {order_id}")));
    };
    if order.status != OrderStatus::Pending {
        tracing::info!(status = %order.status, "order already settled; answer ignored");
        // Commit the inbox row anyway, so a redelivery is recognised.
        return tx.commit().await.map_err(transient);
    }
    let envelope = match verdict {
        Verdict::Confirm => {
            let order = db::set_status(&mut tx, order, OrderStatus::Confirmed, None).await.map_err(transient)?;
            let event = OrderConfirmed {
                order_id,
                customer_id: order.customer_id,
                lines: order.event_lines(),
                total: order.total,
            };
            Envelope::new("order", &event, Some(envelope))
        }
        Verdict::Reject(reason) => {
            let order =
                db::set_status(&mut tx, order, OrderStatus::Rejected, Some(&reason)).await.map_err(transient)?;
            let event = OrderRejected { order_id, customer_id: order.customer_id, reason };
            Envelope::new("order", &event, Some(envelope))
        }
    };
    outbox::enqueue(&mut tx, &envelope).await.map_err(transient)?;
    tx.commit().await.map_err(transient)?;
    tracing::info!(outcome = %envelope.event_type, "order settled");
    Ok(())
}

/// What the customer reads on a rejected order.
fn rejection_reason(short: &[ShortLine]) -> String {
    if short.is_empty() {
        return "rejected by inventory".into();
    }
    let lines: Vec<String> =
        short.iter().map(|s| format!("{} (requested {}, available {})", s.sku, s.requested, s.available)).collect();
    format!("insufficient stock: {}", lines.join(", "))
}

/// A database failure may pass: retry the delivery later.
fn transient(error: sqlx::Error) -> HandlerError {
    HandlerError::Transient(format!("database: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_names_every_short_line() {
        let short = [
            ShortLine { sku: "A".into(), requested: 5, available: 2 },
            ShortLine { sku: "B".into(), requested: 1, available: 0 },
        ];
        assert_eq!(
            rejection_reason(&short),
            "insufficient stock: A (requested 5, available 2), B (requested 1, available 0)"
        );
        assert_eq!(rejection_reason(&[]), "rejected by inventory");
    }
}
