//! Events arrive in any order; the order's status follows precedence
//! (cancelled, then confirmed or rejected, then pending), not arrival.

use chrono::{TimeDelta, Utc};
use serde_json::json;

use crate::helpers::{Order, envelope, spawn_app, statuses};

#[tokio::test]
async fn a_confirmation_that_overtakes_its_placement_ends_confirmed_and_counts_once() {
    let app = spawn_app().await;
    let order = Order::of(&[("CHAIR-2", 4, 2_500)]);
    let mut placed = envelope(&order.placed());
    placed.time = Utc::now() - TimeDelta::seconds(30);
    let confirmed = app.emit(&order.confirmed()).await;

    let summary = app.wait_for_events(1).await;
    assert_eq!(summary["orders_by_status"], statuses(0, 1, 0, 0, 0), "confirmed before it was seen placed");
    app.publish(&placed).await;
    let summary = app.wait_for_events(2).await;
    assert_eq!(summary["orders_by_status"], statuses(0, 1, 0, 0, 0), "the late placement does not demote it");
    assert_eq!(summary["revenue"], 10_000, "counted once");
    assert_eq!(summary["top_skus"], json!([{ "sku": "CHAIR-2", "units": 4, "revenue": 10_000 }]));

    // Each stage keeps the time its event happened, not when it arrived.
    let (placed_at, confirmed_at): (chrono::DateTime<Utc>, chrono::DateTime<Utc>) =
        sqlx::query_as("SELECT placed_at, confirmed_at FROM order_facts WHERE order_id = $1")
            .bind(order.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(placed_at.timestamp_micros(), placed.time.timestamp_micros());
    assert_eq!(confirmed_at.timestamp_micros(), confirmed.time.timestamp_micros());
}

#[tokio::test]
async fn a_cancellation_takes_the_revenue_back_whenever_it_arrives() {
    let app = spawn_app().await;
    let kept = Order::of(&[("BOOK-7", 1, 1_500)]);
    let cancelled = Order::of(&[("BOOK-7", 2, 1_500), ("CUP-1", 1, 400)]);
    for event in [envelope(&kept.placed()), envelope(&kept.confirmed())] {
        app.publish(&event).await;
    }
    app.emit(&cancelled.placed()).await;
    app.emit(&cancelled.confirmed()).await;
    let summary = app.wait_for_events(4).await;
    assert_eq!(summary["revenue"], 1_500 + 3_400);

    app.emit(&cancelled.cancelled("CONFIRMED")).await;
    let summary = app.wait_for_events(5).await;
    assert_eq!(summary["orders_by_status"], statuses(0, 1, 0, 1, 0));
    assert_eq!(summary["revenue"], 1_500, "the cancelled order's revenue is gone");
    assert_eq!(summary["top_skus"], json!([{ "sku": "BOOK-7", "units": 1, "revenue": 1_500 }]));

    // A cancellation that overtakes the confirmation still wins.
    let overtaken = Order::of(&[("CUP-1", 5, 400)]);
    app.emit(&overtaken.cancelled("CONFIRMED")).await;
    app.wait_for_events(6).await;
    app.emit(&overtaken.confirmed()).await;
    app.emit(&overtaken.placed()).await;
    let summary = app.wait_for_events(8).await;
    assert_eq!(summary["orders_by_status"], statuses(0, 1, 0, 2, 0));
    assert_eq!(summary["revenue"], 1_500);
}

#[tokio::test]
async fn an_expired_order_is_counted_expired_and_brings_no_revenue() {
    let app = spawn_app().await;
    let order = Order::of(&[("LAMP-2", 1, 2_500)]);
    // The expiry may arrive before the placement it closes.
    app.emit(&order.expired()).await;
    app.emit(&order.placed()).await;
    let summary = app.wait_for_events(2).await;
    assert_eq!(summary["orders_by_status"], statuses(0, 0, 0, 0, 1));
    assert_eq!(summary["revenue"], 0);
}
