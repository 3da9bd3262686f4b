//! The saga's inventory step: reserving an order's stock when it is placed,
//! and giving it back when the order is cancelled.
//!
//! Each handler runs in the transaction the library opened for the
//! delivery, with its inbox record, and emits its events through the
//! outbox in it: a redelivered event never reaches a handler, and an
//! emitted event exists exactly when its effect does.
//! Beyond the inbox (which knows event ids), the reservation row of the
//! order guards effects per ORDER: a second `order.placed` or
//! `order.cancelled` of the same order with a new event id finds it and
//! does nothing.
//!
//! No oversell under concurrency: the rows of an order's products are
//! locked (in sku order, so two orders never deadlock) before their stock
//! is read, and the order takes all its lines or none. The schema's
//! `CHECK (stock >= 0)` backs this up.
//!
//! An order cancelled or expired before its `order.placed` was handled
//! (closed while PENDING, events overtaking each other, or inventory
//! catching up after the saga's deadline) is recorded as closed; the late
//! `order.placed` then reserves nothing and emits nothing: the order service
//! has already closed the order, so there is no one to tell.

use std::collections::{BTreeMap, HashMap};

use comms::messaging::{Envelope, Event, HandlerError, outbox};
use events::{
    InventoryRejected, InventoryReleased, InventoryReserved, LowStock, OrderCancelled, OrderExpired, OrderLine,
    OrderPlaced, ShortLine,
};
use sqlx::PgConnection;

use crate::catalog::is_exact_sku;
use crate::db::products::{self, LockedStock};
use crate::db::reservations::{self, Status};
use crate::state::AppState;
use crate::stock_feed::{self, Reason, StockChange};

/// Reserves every line of a placed order, or none.
#[tracing::instrument(skip_all, fields(order_id = %order.order_id))]
pub async fn on_order_placed(
    state: &AppState,
    tx: &mut PgConnection,
    envelope: &Envelope,
    order: OrderPlaced,
) -> Result<(), HandlerError> {
    let demand = demand(&order.lines)?;
    if !reservations::claim(tx, order.order_id, Status::Reserved).await? {
        let status = reservations::status_of(tx, order.order_id).await?;
        tracing::info!(status = status.as_deref().unwrap_or("?"), "order already known; nothing to reserve");
        return Ok(());
    }

    // A sku that cannot exist is not looked up; like an unknown one, it has
    // nothing available.
    let known: Vec<&str> = demand.keys().map(String::as_str).filter(|sku| is_exact_sku(sku)).collect();
    let locked = products::lock_stock(tx, &known).await?;
    let available: HashMap<&str, i64> = locked.iter().map(|p| (p.sku.as_str(), p.stock)).collect();
    let short: Vec<ShortLine> = demand
        .iter()
        .filter_map(|(sku, &requested)| {
            let available = available.get(sku.as_str()).copied().unwrap_or(0);
            (available < requested).then(|| ShortLine { sku: sku.clone(), requested, available })
        })
        .collect();

    if !short.is_empty() {
        reservations::mark_rejected(tx, order.order_id).await?;
        let rejected = InventoryRejected { order_id: order.order_id, short };
        emit(tx, &rejected, envelope).await?;
        tracing::info!(short = rejected.short.len(), "order rejected: stock is short");
        return Ok(());
    }

    let (skus, deltas): (Vec<&str>, Vec<i64>) = demand.iter().map(|(sku, &q)| (sku.as_str(), -q)).unzip();
    let taken = products::move_stock(tx, &skus, &deltas).await?;
    reservations::insert_lines(tx, order.order_id, &order.lines).await?;
    announce(tx, &taken, Reason::Reserved).await?;
    // Stock before = after + what this order took.
    let low: Vec<LowStock> = taken
        .iter()
        .filter(|p| crossed_threshold(p.stock + demand[&p.sku], p.stock, state.low_stock_threshold))
        .map(|p| LowStock {
            sku: p.sku.clone(),
            name: p.name.clone(),
            stock: p.stock,
            threshold: state.low_stock_threshold,
        })
        .collect();
    emit(tx, &InventoryReserved { order_id: order.order_id, lines: order.lines }, envelope).await?;
    for event in &low {
        emit(tx, event, envelope).await?;
    }
    tracing::info!(lines = demand.len(), "order reserved");
    Ok(())
}

/// Gives a cancelled order's stock back, once.
#[tracing::instrument(skip_all, fields(order_id = %order.order_id))]
pub async fn on_order_cancelled(
    _: &AppState,
    tx: &mut PgConnection,
    envelope: &Envelope,
    order: OrderCancelled,
) -> Result<(), HandlerError> {
    close(tx, envelope, order.order_id).await
}

/// Gives an expired order's stock back, once: the order service closed it
/// at the saga's deadline, and it reserves nothing here afterwards.
#[tracing::instrument(skip_all, fields(order_id = %order.order_id))]
pub async fn on_order_expired(
    _: &AppState,
    tx: &mut PgConnection,
    envelope: &Envelope,
    order: OrderExpired,
) -> Result<(), HandlerError> {
    close(tx, envelope, order.order_id).await
}

/// An order the order service closed (cancelled or expired): its
/// reservation, if any, is released; if its `order.placed` has not come
/// yet, the order is recorded as closed so that it reserves nothing.
async fn close(tx: &mut PgConnection, envelope: &Envelope, order_id: uuid::Uuid) -> Result<(), HandlerError> {
    if reservations::claim(tx, order_id, Status::Cancelled).await? {
        tracing::info!("order closed before it was placed here; it will reserve nothing");
        return Ok(());
    }
    if !reservations::release(tx, order_id).await? {
        // Rejected (nothing held), or released or closed already.
        return Ok(());
    }
    let lines = reservations::lines(tx, order_id).await?;
    let demand = demand(&lines)?;
    let (skus, deltas): (Vec<&str>, Vec<i64>) = demand.iter().map(|(sku, &q)| (sku.as_str(), q)).unzip();
    products::lock_stock(tx, &skus).await?;
    let returned = products::move_stock(tx, &skus, &deltas).await?;
    announce(tx, &returned, Reason::Released).await?;
    emit(tx, &InventoryReleased { order_id, lines }, envelope).await?;
    tracing::info!(lines = demand.len(), "reservation released");
    Ok(())
}

/// The quantity wanted per sku, in sku order (the order locks are taken
/// in). An order that breaks the event's contract (no lines, a quantity
/// below 1, a NUL in a sku, which no event we emit could repeat) is a bug
/// upstream that no retry fixes: it is dead-lettered with the reason, for a
/// person to look at.
fn demand(lines: &[OrderLine]) -> Result<BTreeMap<String, i64>, HandlerError> {
    if lines.is_empty() {
        return Err(HandlerError::Permanent("an order without lines".into()));
    }
    let mut demand = BTreeMap::new();
    for line in lines {
        if line.sku.contains('\0') {
            return Err(HandlerError::Permanent(format!("NUL in sku {:?}", line.sku)));
        }
        if line.quantity < 1 {
            return Err(HandlerError::Permanent(format!("quantity {} for {:?}", line.quantity, line.sku)));
        }
        let total: &mut i64 = demand.entry(line.sku.clone()).or_default();
        *total = total.checked_add(line.quantity).ok_or_else(|| HandlerError::Permanent("quantity overflow".into()))?;
    }
    Ok(demand)
}

/// Whether stock fell from above the threshold to at or below it: the one
/// moment worth a `low_stock` event (not every sale while it stays low).
fn crossed_threshold(before: i64, after: i64, threshold: i64) -> bool {
    before > threshold && threshold >= after
}

async fn announce(tx: &mut PgConnection, products: &[LockedStock], reason: Reason) -> Result<(), HandlerError> {
    for product in products {
        stock_feed::announce(tx, &StockChange::new(&product.sku, product.stock, reason)).await?;
    }
    Ok(())
}

/// Emits `event` through the outbox, caused by the envelope being handled.
async fn emit<E: Event>(tx: &mut PgConnection, event: &E, cause: &Envelope) -> Result<(), HandlerError> {
    Ok(outbox::enqueue(tx, &Envelope::new(crate::SERVICE.name, event, Some(cause))).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: &str, quantity: i64) -> OrderLine {
        OrderLine { sku: sku.into(), quantity, unit_price: 100 }
    }

    #[test]
    fn demand_sums_lines_per_sku_in_sku_order() {
        let demand = demand(&[line("B", 2), line("A", 1), line("B", 3)]).unwrap();
        assert_eq!(demand.into_iter().collect::<Vec<_>>(), [("A".to_owned(), 1), ("B".to_owned(), 5)]);
    }

    #[test]
    fn orders_that_break_the_contract_are_permanent_failures() {
        for lines in [
            vec![],
            vec![line("A", 0)],
            vec![line("A", -1)],
            vec![line("A\0", 1)],
            vec![line("A", i64::MAX), line("A", 1)],
        ] {
            assert!(matches!(demand(&lines), Err(HandlerError::Permanent(_))), "{lines:?}");
        }
    }

    #[test]
    fn low_stock_fires_only_when_crossing_downward() {
        assert!(crossed_threshold(6, 5, 5));
        assert!(crossed_threshold(10, 0, 5));
        assert!(!crossed_threshold(6, 6, 5), "still above");
        assert!(!crossed_threshold(5, 4, 5), "already low");
        assert!(!crossed_threshold(4, 10, 5), "going up");
    }
}
