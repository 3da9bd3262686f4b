//! Cancelling: the saga's compensation for a confirmed order, allowed to
//! the customer and admins only, once.

use comms::messaging::Envelope;
use events::{InventoryReserved, OrderCancelled, OrderLine, OrderPlaced};
use serde_json::Value;

use crate::helpers::{As, assert_problem, spawn_app};

#[tokio::test]
async fn a_confirmed_order_is_cancelled_once_by_its_customer_and_never_by_another() {
    let app = spawn_app().await;
    let bus = app.bus(&["order.placed", "order.confirmed", "order.cancelled"]).await;
    let me = app.customer();
    let order = app.place_ok(&me, &[("KEYBOARD", 2)]).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let (placed, event) = bus.wait_for::<OrderPlaced>(&id).await;
    let reserved =
        Envelope::new("inventory", &InventoryReserved { order_id: event.order_id, lines: event.lines }, Some(&placed));
    bus.publish(&reserved).await;
    bus.wait_for::<events::OrderConfirmed>(&id).await;

    let stranger = app.customer();
    assert_problem(app.cancel(&stranger, &id).await, 404).await;
    assert_eq!(app.status_of(&id).await, "CONFIRMED", "a stranger changes nothing");

    let cancelled = app.cancel(&me, &id).await;
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["id"], id);

    let (_, event) = bus.wait_for::<OrderCancelled>(&id).await;
    assert_eq!(event.previous_status, "CONFIRMED");
    assert_eq!(event.customer_id, me.id);
    assert_eq!(event.lines, [OrderLine { sku: "KEYBOARD".into(), quantity: 2, unit_price: 4_999 }]);
    assert_eq!(event.total, 9_998);

    let again = assert_problem(app.cancel(&me, &id).await, 409).await;
    assert_eq!(again["detail"], "an order that is CANCELLED cannot be cancelled");
    assert_eq!(app.outbox_count("order.cancelled", &id).await, 1, "order.cancelled is emitted once");
}

#[tokio::test]
async fn a_rejected_order_cannot_be_cancelled_and_an_admin_may_cancel_any_order() {
    let app = spawn_app().await;
    let me = app.customer();
    let rejected = app.place_ok(&me, &[("MOUSE", 1)]).await;
    let rejected_id = rejected["id"].as_str().unwrap();
    sqlx::query("UPDATE orders SET status = 'REJECTED', reason = 'insufficient stock' WHERE id = $1::uuid")
        .bind(rejected_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let problem = assert_problem(app.cancel(&me, rejected_id).await, 409).await;
    assert_eq!(problem["detail"], "an order that is REJECTED cannot be cancelled");

    let pending = app.place_ok(&me, &[("CABLE", 1)]).await;
    let pending_id = pending["id"].as_str().unwrap();
    let by_admin: Value = app.cancel(&As::admin(), pending_id).await.json().await.unwrap();
    assert_eq!(by_admin["status"], "CANCELLED");
    assert_eq!(app.outbox_count("order.cancelled", pending_id).await, 1);

    assert_problem(app.cancel(&me, "not-a-uuid").await, 422).await;
    assert_problem(app.cancel(&me, &uuid::Uuid::now_v7().to_string()).await, 404).await;
}
