//! One trace from the client's request through the gRPC calls to the user
//! and inventory services and on into the event that announces the order.

use crate::helpers::{lines, spawn_app};

#[tokio::test]
async fn the_callers_trace_reaches_the_upstream_calls_and_the_placed_event() {
    let app = spawn_app().await;
    let bus = app.bus(&["order.placed"]).await;
    let me = app.customer();
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let traceparent = format!("00-{trace_id}-{}-01", &uuid::Uuid::new_v4().simple().to_string()[..16]);

    let response = app
        .api
        .request(reqwest::Method::POST, "/orders", &me)
        .header("idempotency-key", "traced")
        .header("traceparent", &traceparent)
        .json(&lines(&[("MOUSE", 1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let seen = app.users.traceparents();
    assert!(seen.iter().any(|t| t.contains(&trace_id)), "GetUser carried the trace: {seen:?}");

    let stored: Option<String> =
        sqlx::query_scalar("SELECT trace_context->>'traceparent' FROM comms_outbox WHERE event_type = 'order.placed'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(stored.is_some_and(|t| t.contains(&trace_id)), "the outbox row keeps the trace");

    bus.wait_for::<events::OrderPlaced>(&id).await;
    let delivery = bus.deliveries().pop().unwrap();
    let header = delivery.headers.get("traceparent").cloned().unwrap_or_default();
    assert!(header.contains(&trace_id), "the message carries the trace: {header:?}");
}
