//! The saga step, black box: events in on the broker, events out on the
//! broker, stock in the database.

use events::{InventoryRejected, InventoryReleased, InventoryReserved, LowStock, ShortLine};

use crate::helpers::spawn_app;
use crate::probe::{Probe, line, order_cancelled, order_expired, order_placed};

#[tokio::test]
async fn an_order_for_available_stock_is_reserved_and_its_stock_taken() {
    let app = spawn_app().await;
    app.insert_product("SKU-KETTLE", 10).await;
    app.insert_product("SKU-MUG", 5).await;
    let probe = Probe::start(app.broker()).await;

    let order = order_placed(vec![line("SKU-KETTLE", 2), line("SKU-MUG", 1), line("SKU-KETTLE", 1)]);
    let placed = probe.publish(&order).await;

    let reserved = probe.wait_for("inventory.reserved", 1).await;
    let payload: InventoryReserved = reserved[0].decode().unwrap();
    assert_eq!(payload, InventoryReserved { order_id: order.order_id, lines: order.lines.clone() });
    assert_eq!(reserved[0].source, "inventory");
    assert_eq!(reserved[0].causationid.as_deref(), Some(placed.id.to_string().as_str()), "caused by the order.placed");
    assert_eq!(reserved[0].correlationid, placed.correlationid, "one correlation id along the saga");
    assert_eq!((app.stock("SKU-KETTLE").await, app.stock("SKU-MUG").await), (7, 4));
}

#[tokio::test]
async fn an_order_with_one_short_line_reserves_nothing_and_names_every_short_line() {
    let app = spawn_app().await;
    app.insert_product("SKU-KETTLE", 10).await;
    app.insert_product("SKU-MUG", 1).await;
    let probe = Probe::start(app.broker()).await;

    let order = order_placed(vec![line("SKU-KETTLE", 2), line("SKU-MUG", 3), line("SKU-GHOST", 1)]);
    probe.publish(&order).await;

    probe.wait_for("inventory.rejected", 1).await;
    let rejected: Vec<InventoryRejected> = probe.payloads();
    let short = vec![
        ShortLine { sku: "SKU-GHOST".into(), requested: 1, available: 0 },
        ShortLine { sku: "SKU-MUG".into(), requested: 3, available: 1 },
    ];
    assert_eq!(rejected, [InventoryRejected { order_id: order.order_id, short }]);
    assert_eq!((app.stock("SKU-KETTLE").await, app.stock("SKU-MUG").await), (10, 1), "every line or none");
    app.settle(1).await;
    assert_eq!(app.emitted("inventory.reserved").await, 0);
}

#[tokio::test]
async fn a_cancelled_order_gives_its_stock_back_exactly_once_however_often_the_cancel_arrives() {
    let app = spawn_app().await;
    app.insert_product("SKU-TEAPOT", 10).await;
    let probe = Probe::start(app.broker()).await;
    let order = order_placed(vec![line("SKU-TEAPOT", 3)]);
    probe.publish(&order).await;
    probe.wait_for("inventory.reserved", 1).await;
    assert_eq!(app.stock("SKU-TEAPOT").await, 7);

    // The same envelope twice (a redelivery), and a second cancel of the
    // same order under a new event id (a retry upstream).
    let cancel = order_cancelled(&order, "CONFIRMED");
    let first = comms::messaging::Envelope::new("order", &cancel, None);
    let second = comms::messaging::Envelope::new("order", &cancel, None);
    probe.publish_all(&[first.clone(), first, second]).await;

    let released = probe.wait_for("inventory.released", 1).await;
    app.settle(4).await;
    assert_eq!(app.emitted("inventory.released").await, 1, "one release, whatever the duplicates");
    assert_eq!(probe.received("inventory.released").len(), 1);
    let payload: InventoryReleased = released[0].decode().unwrap();
    assert_eq!(payload, InventoryReleased { order_id: order.order_id, lines: order.lines.clone() });
    assert_eq!(app.stock("SKU-TEAPOT").await, 10, "the stock came back once");
}

#[tokio::test]
async fn an_order_cancelled_before_it_was_placed_here_reserves_nothing() {
    let app = spawn_app().await;
    app.insert_product("SKU-MUG", 10).await;
    let probe = Probe::start(app.broker()).await;
    let order = order_placed(vec![line("SKU-MUG", 2)]);

    probe.publish(&order_cancelled(&order, "PENDING")).await;
    app.settle(1).await;
    probe.publish(&order).await;
    app.settle(2).await;

    assert_eq!(app.stock("SKU-MUG").await, 10);
    let status: String = sqlx::query_scalar("SELECT status FROM reservations WHERE order_id = $1")
        .bind(order.order_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "cancelled");
    let emitted: i64 = sqlx::query_scalar("SELECT count(*) FROM comms_outbox").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(emitted, 0, "the order is closed already: there is no one to tell");
}

#[tokio::test]
async fn an_expired_order_gives_back_what_it_reserved_and_a_late_one_reserves_nothing() {
    let app = spawn_app().await;
    app.insert_product("SKU-KETTLE", 10).await;
    let probe = Probe::start(app.broker()).await;

    // Reserved before inventory hears of the expiry: released by it.
    let early = order_placed(vec![line("SKU-KETTLE", 3)]);
    probe.publish(&early).await;
    probe.wait_for("inventory.reserved", 1).await;
    assert_eq!(app.stock("SKU-KETTLE").await, 7);
    probe.publish(&order_expired(&early)).await;
    let released = probe.wait_for("inventory.released", 1).await;
    let payload: InventoryReleased = released[0].decode().unwrap();
    assert_eq!(payload.order_id, early.order_id);
    assert_eq!(app.stock("SKU-KETTLE").await, 10, "back at its initial value");

    // Placed after the expiry arrived (inventory catching up): nothing held.
    let late = order_placed(vec![line("SKU-KETTLE", 4)]);
    probe.publish(&order_expired(&late)).await;
    app.settle(3).await;
    probe.publish(&late).await;
    app.settle(4).await;
    assert_eq!(app.stock("SKU-KETTLE").await, 10, "the late order.placed reserved nothing");
    assert_eq!(app.emitted("inventory.reserved").await, 1, "only the early order was ever reserved");
}

#[tokio::test]
async fn low_stock_is_emitted_once_when_stock_crosses_the_threshold() {
    // The threshold is 5: 7 → 6 stays above, 6 → 4 crosses, 4 → 3 is already low.
    let app = spawn_app().await;
    app.insert_product("SKU-KETTLE", 7).await;
    let probe = Probe::start(app.broker()).await;
    for (n, quantity) in [1, 2, 1].into_iter().enumerate() {
        probe.publish(&order_placed(vec![line("SKU-KETTLE", quantity)])).await;
        probe.wait_for("inventory.reserved", n + 1).await;
    }
    app.settle(3).await;

    assert_eq!(app.emitted("inventory.low_stock").await, 1);
    probe.wait_for("inventory.low_stock", 1).await;
    let low: Vec<LowStock> = probe.payloads();
    let expected = LowStock { sku: "SKU-KETTLE".into(), name: "Product SKU-KETTLE".into(), stock: 4, threshold: 5 };
    assert_eq!(low, [expected]);
}
