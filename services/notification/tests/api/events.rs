//! From domain events to stored notifications: one per event and
//! recipient, whatever the broker redelivers, with the customer looked up
//! over REST when the event does not say enough.

use std::time::Duration;

use comms::auth::Principal;
use events::{LowStock, OrderCancelled, OrderConfirmed, OrderLine, OrderRejected, UserRegistered};
use testkit::SmtpSink;
use uuid::Uuid;

use crate::helpers::{PATIENCE, smtp_to, spawn_app, spawn_app_with};

fn registered(name: &str, email: &str) -> UserRegistered {
    UserRegistered { user_id: Uuid::now_v7(), email: email.into(), name: name.into() }
}

fn confirmed(customer_id: Uuid) -> OrderConfirmed {
    OrderConfirmed {
        order_id: Uuid::now_v7(),
        customer_id,
        lines: vec![OrderLine { sku: "TEA-1".into(), quantity: 2, unit_price: 1250 }],
        total: 2500,
    }
}

#[tokio::test]
async fn a_registered_user_gets_one_welcome_delivered_even_when_the_event_arrives_twice() {
    let sink = SmtpSink::start().await.unwrap();
    let app = spawn_app_with(|s| smtp_to(s, sink.addr())).await;
    let event = registered("Ada", "ada@example.com");
    let envelope = comms::messaging::Envelope::new("user", &event, None);

    app.publish_envelope(&envelope).await;
    app.publish_envelope(&envelope).await;
    let stored = app.wait_for_stored(envelope.id, |s| s.len() == 1 && s[0].status == "sent").await;
    assert_eq!(stored[0].user_id, Some(event.user_id));
    assert_eq!(stored[0].recipient, "ada@example.com");
    assert_eq!(stored[0].subject, "Welcome to switchyard, Ada");
    assert_eq!(stored[0].attempts, 1);
    assert!(stored[0].sent_at.is_some());

    // Another event published after both copies: once it is delivered, the
    // copies have long been handled.
    let marker = app.publish("user", &registered("Grace", "grace@example.com")).await;
    app.wait_for_stored(marker.id, |s| s.len() == 1 && s[0].status == "sent").await;
    assert!(sink.wait_for(2, PATIENCE).await);
    assert_eq!(app.stored_for(envelope.id).await.len(), 1, "one notification for the event");
    let to_ada = sink.messages().into_iter().filter(|m| m.recipients == ["ada@example.com"]).count();
    assert_eq!(to_ada, 1, "one delivery for the event");
    assert_eq!(app.queued_tasks().await, 2, "one delivery task per notification");
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM comms_inbox WHERE event_id = $1")
        .bind(envelope.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(inbox, 1, "the inbox recorded the event once");
    assert!(app.users.lookups().is_empty(), "user.registered carries all it needs");
}

#[tokio::test]
async fn an_order_confirmation_is_rendered_for_the_customer_fetched_from_the_user_service() {
    let app = spawn_app().await;
    let ada = app.users.add("Ada Lovelace", "ada@example.com");
    let event = confirmed(ada);

    let envelope = app.publish("order", &event).await;
    let stored = app.wait_for_stored(envelope.id, |s| s.len() == 1).await;
    assert_eq!(stored[0].user_id, Some(ada));
    assert_eq!(stored[0].recipient, "ada@example.com");
    assert_eq!(stored[0].subject, format!("Your order {} is confirmed", event.order_id));
    assert!(stored[0].body.starts_with("Hello Ada Lovelace,"), "{}", stored[0].body);
    assert!(stored[0].body.contains("2 x TEA-1 at 12.50") && stored[0].body.contains("Total: 25.00"));

    let lookups = app.users.lookups_of(ada);
    assert_eq!(lookups.len(), 1);
    assert_eq!(
        lookups[0].caller,
        Some(Principal::Service("notification".into())),
        "as the notification service, with its own token"
    );
}

#[tokio::test]
async fn rejections_and_cancellations_reach_the_customer_too() {
    let app = spawn_app().await;
    let ada = app.users.add("Ada", "ada@example.com");
    let order_id = Uuid::now_v7();

    let rejected = app
        .publish("order", &OrderRejected { order_id, customer_id: ada, reason: "TEA-1 is out of stock".into() })
        .await;
    let cancelled = app
        .publish(
            "order",
            &OrderCancelled {
                order_id,
                customer_id: ada,
                previous_status: "CONFIRMED".into(),
                lines: vec![],
                total: 0,
            },
        )
        .await;

    let stored = app.wait_for_stored(rejected.id, |s| s.len() == 1).await;
    assert_eq!(stored[0].subject, format!("Your order {order_id} could not be fulfilled"));
    assert!(stored[0].body.contains("TEA-1 is out of stock"));
    let stored = app.wait_for_stored(cancelled.id, |s| s.len() == 1).await;
    assert_eq!(stored[0].subject, format!("Your order {order_id} is cancelled"));
}

#[tokio::test]
async fn while_the_user_service_fails_the_event_waits_and_is_then_handled() {
    let app = spawn_app().await;
    let ada = app.users.add("Ada", "ada@example.com");
    // More failures than the REST client retries on its own: the handler
    // sees the failure and the broker brings the event back later.
    app.users.fail_next(3);

    let envelope = app.publish("order", &confirmed(ada)).await;
    let stored = app.wait_for_stored(envelope.id, |s| s.len() == 1).await;
    assert_eq!(stored[0].recipient, "ada@example.com");
    assert!(app.users.lookups_of(ada).len() >= 4, "retried after the failures: {:?}", app.users.lookups_of(ada));
}

#[tokio::test]
async fn a_customer_the_user_service_does_not_know_gets_nothing_and_the_event_is_not_retried() {
    let app = spawn_app().await;
    let gone = Uuid::now_v7();
    let ada = app.users.add("Ada", "ada@example.com");

    let lost = app.publish("order", &confirmed(gone)).await;
    let marker = app.publish("order", &confirmed(ada)).await;
    app.wait_for_stored(marker.id, |s| s.len() == 1).await;
    // Deliveries are handled concurrently: the marker may be stored before
    // the lost event's lookup has gone out.
    for _ in 0..50 {
        if !app.users.lookups_of(gone).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.users.lookups_of(gone).len(), 1, "looked up once");
    // An event that failed would come back after the first retry delay
    // (1 s); past it, the 404 has still been asked about only once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.users.lookups_of(gone).len(), 1, "a 404 is not retried");
    assert!(app.stored_for(lost.id).await.is_empty());
}

#[tokio::test]
async fn low_stock_goes_to_every_operator() {
    let app = spawn_app_with(|s| s.own.operator_emails = "ops@switchyard.local, Buyer@Switchyard.local".into()).await;
    let event = LowStock { sku: "TEA-1".into(), name: "Green tea".into(), stock: 2, threshold: 5 };

    let envelope = app.publish("inventory", &event).await;
    let stored = app.wait_for_stored(envelope.id, |s| s.len() == 2 && s.iter().all(|n| n.status == "sent")).await;
    let recipients: Vec<&str> = stored.iter().map(|n| n.recipient.as_str()).collect();
    assert_eq!(recipients, ["buyer@switchyard.local", "ops@switchyard.local"]);
    assert!(stored.iter().all(|n| n.user_id.is_none() && n.subject == "Low stock: TEA-1"));
    assert!(stored[0].body.contains("Green tea (TEA-1) is down to 2 in stock; the threshold is 5."));
}
