//! The saga through RabbitMQ: an order is placed (order.placed goes out),
//! inventory's answer confirms or rejects it (order.confirmed /
//! order.rejected go out), and redelivered answers change nothing.

use comms::messaging::{Delivery, Envelope, Handler};
use events::{InventoryRejected, InventoryReserved, OrderConfirmed, OrderLine, OrderPlaced, OrderRejected, ShortLine};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Bus, TestApp, eventually, lines, spawn_app};

const TYPES: &[&str] = &["order.placed", "order.confirmed", "order.rejected"];

#[tokio::test]
async fn a_placed_order_is_announced_then_confirmed_or_rejected_by_inventory() {
    let app = spawn_app().await;
    let bus = app.bus(TYPES).await;
    let me = app.customer();

    let response = app.place(&me, "first-order", &lines(&[("MOUSE", 2), ("KEYBOARD", 1)])).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let order: Value = response.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/orders/{id}"));
    assert_eq!(order["status"], "PENDING");
    assert_eq!(order["customer_id"], me.id.to_string());
    assert_eq!(order["total"], 2 * 1_999 + 4_999);
    assert_eq!(order["lines"][0]["sku"], "KEYBOARD", "lines come in sku order");
    assert_eq!(order["lines"][1]["unit_price"], 1_999, "priced by inventory");
    assert_eq!(app.outbox_count("order.placed", &id).await, 1);

    let (placed, event) = bus.wait_for::<OrderPlaced>(&id).await;
    assert_eq!(placed.source, "order");
    assert_eq!(event.customer_id, me.id);
    assert_eq!(event.total, 8_997);
    assert_eq!(
        event.lines,
        [
            OrderLine { sku: "KEYBOARD".into(), quantity: 1, unit_price: 4_999 },
            OrderLine { sku: "MOUSE".into(), quantity: 2, unit_price: 1_999 },
        ]
    );

    // Inventory reserves: the order is confirmed, and says so.
    let reserved =
        Envelope::new("inventory", &InventoryReserved { order_id: event.order_id, lines: event.lines }, Some(&placed));
    bus.publish(&reserved).await;
    let (confirmed, confirmation) = bus.wait_for::<OrderConfirmed>(&id).await;
    assert_eq!(app.status_of(&id).await, "CONFIRMED");
    assert_eq!(confirmation.total, 8_997);
    assert_eq!(confirmed.causationid, Some(reserved.id.to_string()), "caused by inventory's answer");
    assert_eq!(confirmed.correlationid, placed.correlationid, "one correlation id for the whole saga");

    // A second order is rejected for want of stock, with a reason.
    let second = app.place_ok(&me, &[("CABLE", 3)]).await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let (second_placed, _) = bus.wait_for::<OrderPlaced>(&second_id).await;
    let short = vec![ShortLine { sku: "CABLE".into(), requested: 3, available: 1 }];
    let rejected = Envelope::new(
        "inventory",
        &InventoryRejected { order_id: second_id.parse().unwrap(), short },
        Some(&second_placed),
    );
    // Before it, a redelivery of the first answer: it must change nothing.
    bus.publish(&reserved).await;
    bus.publish(&rejected).await;
    let (_, rejection) = bus.wait_for::<OrderRejected>(&second_id).await;
    assert_eq!(rejection.reason, "insufficient stock: CABLE (requested 3, available 1)");
    let fetched: Value = app.get_order(&me, &second_id).await.json().await.unwrap();
    assert_eq!(fetched["status"], "REJECTED");
    assert_eq!(fetched["reason"], rejection.reason);

    assert_eq!(app.status_of(&id).await, "CONFIRMED");
    assert_eq!(app.outbox_count("order.confirmed", &id).await, 1, "the redelivery emitted nothing");
    assert_redelivery_changes_nothing(&app, &reserved, &id).await;
    assert_eq!(bus.received::<OrderConfirmed>(&id).len(), 1);
}

/// The same envelope handed straight to the service's handlers once more,
/// as a broker redelivery would: acknowledged, and nothing changes.
async fn assert_redelivery_changes_nothing(app: &TestApp, envelope: &Envelope, id: &str) {
    let before: (String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT status, updated_at FROM orders WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let router = order::consumers::router().consumer(app.db.pool.clone(), order::SERVICE.name);
    let delivery = Delivery { body: envelope.to_bytes(), headers: Default::default(), attempt: 1, redelivered: true };
    router.handle(&delivery).await.expect("a duplicate is acknowledged");
    let after: (String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT status, updated_at FROM orders WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(before, after);
    assert_eq!(app.outbox_count("order.confirmed", id).await, 1);
}

#[tokio::test]
async fn an_order_cancelled_before_inventory_answers_stays_cancelled() {
    let app = spawn_app().await;
    let bus: Bus = app.bus(&["order.placed", "order.cancelled", "order.confirmed"]).await;
    let me = app.customer();
    let order = app.place_ok(&me, &[("MOUSE", 1)]).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let (placed, event) = bus.wait_for::<OrderPlaced>(&id).await;

    assert_eq!(app.cancel(&me, &id).await.status(), 200);
    let (_, cancelled) = bus.wait_for::<events::OrderCancelled>(&id).await;
    assert_eq!(cancelled.previous_status, "PENDING");

    let reserved =
        Envelope::new("inventory", &InventoryReserved { order_id: event.order_id, lines: event.lines }, Some(&placed));
    bus.publish(&reserved).await;
    // The answer is recorded in the inbox when it has been handled.
    eventually("the late answer to be handled", || async {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM comms_inbox WHERE event_id = $1)")
            .bind(reserved.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(app.status_of(&id).await, "CANCELLED");
    assert_eq!(app.outbox_count("order.confirmed", &id).await, 0);
}

#[tokio::test]
async fn an_answer_about_an_unknown_order_is_refused_for_a_person_to_look_at() {
    let app = spawn_app().await;
    let router = order::consumers::router().consumer(app.db.pool.clone(), order::SERVICE.name);
    let stray = Envelope::new("inventory", &InventoryReserved { order_id: Uuid::now_v7(), lines: vec![] }, None);
    let delivery = Delivery { body: stray.to_bytes(), headers: Default::default(), attempt: 1, redelivered: false };
    let error = router.handle(&delivery).await.unwrap_err();
    assert!(matches!(error, comms::messaging::HandlerError::Permanent(_)), "{error:?}");
}

#[tokio::test]
async fn an_order_no_one_answers_expires_at_the_deadline_once_however_many_sweep() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.own.saga.deadline_secs = 2;
        settings.own.saga.sweep_secs = 1;
    })
    .await;
    let bus = app.bus(&["order.placed", "order.expired"]).await;
    let me = app.customer();
    let order = app.place_ok(&me, &[("MOUSE", 1)]).await;
    let id = order["id"].as_str().unwrap().to_owned();
    bus.wait_for::<OrderPlaced>(&id).await;

    // Two more sweepers beside the service's own, as other instances would.
    let deadline = std::time::Duration::from_secs(2);
    let pool = app.db.pool.clone();
    let others: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for _ in 0..40 {
                    order::expiry::sweep(&pool, deadline).await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            })
        })
        .collect();
    let (_, expired) = bus.wait_for::<events::OrderExpired>(&id).await;
    for other in others {
        other.await.unwrap();
    }
    assert_eq!(expired.reason, "inventory did not answer within 2 s");
    assert_eq!(expired.customer_id, me.id);
    let fetched: Value = app.get_order(&me, &id).await.json().await.unwrap();
    assert_eq!(fetched["status"], "EXPIRED");
    assert_eq!(fetched["reason"], expired.reason);
    assert_eq!(app.outbox_count("order.expired", &id).await, 1, "expired once, by one of three sweepers");
    assert_eq!(bus.received::<events::OrderExpired>(&id).len(), 1);

    // Inventory's answer arriving after the deadline changes nothing.
    let reserved =
        Envelope::new("inventory", &InventoryReserved { order_id: id.parse().unwrap(), lines: vec![] }, None);
    let router = order::consumers::router().consumer(app.db.pool.clone(), order::SERVICE.name);
    let delivery = Delivery { body: reserved.to_bytes(), headers: Default::default(), attempt: 1, redelivered: false };
    router.handle(&delivery).await.expect("acknowledged");
    assert_eq!(app.status_of(&id).await, "EXPIRED");
    assert_eq!(app.outbox_count("order.confirmed", &id).await, 0);
}
