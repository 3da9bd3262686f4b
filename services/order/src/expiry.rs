//! The saga's deadline. An order stays PENDING until inventory answers its
//! `order.placed`; if no answer comes (inventory down for longer than its
//! consumers retry, a message dead-lettered), the order would stay PENDING
//! for ever and its customer would never hear. So a sweep closes every
//! order PENDING past `ORDER_SAGA__DEADLINE_SECS` as EXPIRED, with the
//! reason, and announces `order.expired` in the same transaction.
//!
//! Every instance sweeps. The overdue orders are locked `FOR UPDATE SKIP
//! LOCKED` and only PENDING ones are taken, so two sweeps never expire one
//! order twice, and an answer from inventory arriving at that moment waits
//! for the lock and then finds the order settled (`consumers`). Inventory,
//! told by `order.expired`, gives back what it reserved and reserves
//! nothing for the order afterwards (docs/patterns/saga.md).

use std::time::Duration;

use comms::messaging::{Envelope, outbox};
use events::OrderExpired;
use sqlx::PgPool;

use crate::config::SagaSettings;
use crate::db;
use crate::domain::OrderStatus;

/// Orders expired per transaction: a long backlog goes in several.
const BATCH: i64 = 100;

/// Expires the orders overdue now; returns how many.
#[tracing::instrument(skip_all)]
pub async fn sweep(db: &PgPool, deadline: Duration) -> sqlx::Result<usize> {
    let mut expired = 0;
    loop {
        let mut tx = db.begin().await?;
        let overdue = db::lock_overdue(&mut tx, deadline, BATCH).await?;
        let found = overdue.len();
        for order in overdue {
            let reason = format!("inventory did not answer within {} s", deadline.as_secs());
            let order = db::set_status(&mut tx, order, OrderStatus::Expired, Some(&reason)).await?;
            let event = OrderExpired {
                order_id: order.id,
                customer_id: order.customer_id,
                reason,
                lines: order.event_lines(),
                total: order.total,
            };
            outbox::enqueue(&mut tx, &Envelope::new(crate::SERVICE.name, &event, None)).await?;
            tracing::warn!(order_id = %order.id, "order expired: no answer from inventory");
        }
        tx.commit().await?;
        expired += found;
        if found < BATCH as usize {
            metrics::counter!("orders_expired_total").increment(expired as u64);
            return Ok(expired);
        }
    }
}

/// Sweeps every `settings.sweep_secs` until `stopping`.
pub async fn run(db: PgPool, settings: SagaSettings, stopping: comms::Shutdown) -> anyhow::Result<()> {
    stopping
        .every(Duration::from_secs(settings.sweep_secs), || async {
            if let Err(error) = sweep(&db, settings.deadline()).await {
                tracing::warn!(%error, "cannot sweep for expired orders; trying again next time");
            }
        })
        .await
}
