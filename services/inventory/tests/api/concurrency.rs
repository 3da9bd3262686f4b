//! No oversell: two replicas racing over one product's last units.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use comms::messaging::Envelope;
use events::{InventoryRejected, InventoryReserved, ShortLine};

use crate::helpers::{eventually_within, spawn_app};
use crate::probe::{Probe, line, order_placed};

#[tokio::test]
async fn two_replicas_reserve_exactly_the_stock_there_is_when_200_orders_race_for_50_units() {
    let app = spawn_app().await;
    let replica = app.spawn_replica().await;
    app.insert_product("SKU-HOT", 50).await;
    let probe = Probe::start(app.broker()).await;

    let orders: Vec<Envelope> =
        (0..200).map(|_| Envelope::new("order", &order_placed(vec![line("SKU-HOT", 1)]), None)).collect();
    probe.publish_all(&orders).await;

    let decided = || probe.received("inventory.reserved").len() + probe.received("inventory.rejected").len();
    eventually_within(Duration::from_secs(90), "a decision on every order", || async { decided() >= 200 }).await;

    let reserved: Vec<InventoryReserved> = probe.payloads();
    let rejected: Vec<InventoryRejected> = probe.payloads();
    assert_eq!((reserved.len(), rejected.len()), (50, 150));
    let decided_orders: HashSet<_> =
        reserved.iter().map(|r| r.order_id).chain(rejected.iter().map(|r| r.order_id)).collect();
    assert_eq!(decided_orders.len(), 200, "one decision per order");
    for r in &rejected {
        assert_eq!(r.short, [ShortLine { sku: "SKU-HOT".into(), requested: 1, available: 0 }]);
    }

    assert_eq!(app.stock("SKU-HOT").await, 0);
    // Audit: every unit is either on the shelf or held for a reserved order.
    let held: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(l.quantity), 0)::bigint FROM reservation_lines l
         JOIN reservations r USING (order_id) WHERE r.status = 'reserved'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(held + app.stock("SKU-HOT").await, 50);
    // And the schema itself refuses negative stock, whatever the code does.
    let negative = sqlx::query("UPDATE products SET stock = -1 WHERE sku = 'SKU-HOT'").execute(&app.db.pool).await;
    let error = negative.expect_err("negative stock is refused");
    assert_eq!(error.as_database_error().and_then(|e| e.constraint()), Some("products_stock_check"));

    let (mine, theirs) = (app.events_handled.load(Ordering::SeqCst), replica.events_handled.load(Ordering::SeqCst));
    assert!(mine > 0 && theirs > 0, "both replicas did work: {mine} and {theirs}");
    assert!(mine + theirs >= 200);
}
