//! What the summary and the series count, and that each event counts once
//! however often it is delivered, in the minute it happened.

use std::collections::HashMap;

use chrono::{DurationRound, TimeDelta, Utc};
use comms::messaging::Envelope;
use serde_json::json;

use crate::helpers::{Order, envelope, registered, spawn_app, statuses};

#[tokio::test]
async fn a_confirmed_order_and_a_registration_show_in_the_summary() {
    let app = spawn_app().await;
    let sold = Order::of(&[("LAMP-1", 2, 500), ("DESK-9", 1, 12_000)]);
    let refused = Order::of(&[("LAMP-1", 50, 500)]);

    app.emit(&registered()).await;
    app.emit(&sold.placed()).await;
    app.emit(&sold.confirmed()).await;
    app.emit(&refused.placed()).await;
    app.emit(&refused.rejected()).await;

    let summary = app.wait_for_events(5).await;
    assert_eq!(summary["registrations"], 1);
    assert_eq!(summary["orders_by_status"], statuses(0, 1, 1, 0, 0));
    assert_eq!(summary["revenue"], 13_000, "the confirmed order's total; the rejected one earns nothing");
    assert_eq!(
        summary["top_skus"],
        json!([
            { "sku": "DESK-9", "units": 1, "revenue": 12_000 },
            { "sku": "LAMP-1", "units": 2, "revenue": 1_000 },
        ]),
        "by revenue, from confirmed orders only"
    );
}

#[tokio::test]
async fn the_same_envelope_delivered_three_times_counts_once() {
    let app = spawn_app().await;
    let order = Order::of(&[("MUG-3", 3, 250)]);
    let placed = envelope(&order.placed());
    let confirmed = envelope(&order.confirmed());

    // Every delivery carries one trace, so the test can see when the
    // service has finished with all of them.
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let traceparent = format!("00-{trace_id}-{}-01", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let headers = HashMap::from([("traceparent".to_owned(), traceparent)]);
    for envelope in [&placed, &placed, &placed, &confirmed, &confirmed, &confirmed] {
        app.publish_with(envelope, headers.clone()).await;
    }
    let processed = |spans: &[testkit::otlp::RecordedSpan]| {
        spans.iter().filter(|s| s.attribute("messaging.operation.type") == Some("process")).count()
    };
    let spans = testkit::otlp().wait_for(&trace_id, |spans| processed(spans) >= 6).await;
    assert_eq!(processed(&spans), 6, "the service handled all six deliveries");

    let summary = app.summary().await;
    assert_eq!(summary["events_applied"], 2, "two distinct events");
    assert_eq!(summary["orders_by_status"], statuses(0, 1, 0, 0, 0));
    assert_eq!(summary["revenue"], 750);
    assert_eq!(summary["top_skus"], json!([{ "sku": "MUG-3", "units": 3, "revenue": 750 }]));
    let series = app.series("order.placed", 5).await;
    let counted: i64 = series["points"].as_array().unwrap().iter().map(|p| p["events"].as_i64().unwrap()).sum();
    assert_eq!(counted, 1, "the series counts the placement once too");
}

#[tokio::test]
async fn a_late_event_lands_in_the_minute_it_happened() {
    let app = spawn_app().await;
    let mut late = envelope(&Order::of(&[("PEN-1", 1, 100)]).placed());
    late.time = Utc::now() - TimeDelta::minutes(10);
    app.publish(&late).await;
    app.emit(&Order::of(&[("PEN-1", 1, 100)]).placed()).await;
    app.wait_for_events(2).await;

    let series = app.series("order.placed", 15).await;
    let points = series["points"].as_array().unwrap();
    assert_eq!(points.len(), 15);
    let late_minute = late.time.duration_trunc(TimeDelta::minutes(1)).unwrap();
    let at = |minute: chrono::DateTime<Utc>| {
        points
            .iter()
            .find(|p| p["minute"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap() == minute)
            .unwrap_or_else(|| panic!("{minute} is in the series: {series:#}"))["events"]
            .clone()
    };
    assert_eq!(at(late_minute), 1, "the late event is counted ten minutes back, where it happened");
    let total: i64 = points.iter().map(|p| p["events"].as_i64().unwrap()).sum();
    assert_eq!(total, 2, "and nowhere else: the other one is in the last minute or two");
    assert_eq!(app.series("order.confirmed", 15).await["points"].as_array().unwrap().len(), 15);
}

#[tokio::test]
async fn an_event_the_database_cannot_store_is_dead_lettered_at_once_and_the_rest_still_count() {
    let app = spawn_app().await;
    let dead_letters = app.dead_letters().await;
    let poison = app.emit(&Order::of(&[("NUL\0SKU", 1, 100)]).placed()).await;
    app.emit(&registered()).await;

    let summary = app.wait_for_events(1).await;
    assert_eq!(summary["registrations"], 1);
    let dead = dead_letters.first().await;
    assert_eq!(Envelope::from_bytes(&dead.body).unwrap().id, poison.id);
    assert_eq!(dead.attempt, 1, "not retried: it would fail the same way every time");
    let reason = &dead.headers[comms::messaging::broker::headers::DEATH_REASON];
    assert!(reason.contains("unsupported Unicode escape sequence"), "the database's own reason: {reason}");
    assert_eq!(app.summary().await["orders_by_status"], statuses(0, 0, 0, 0, 0), "nothing of it was recorded");
}
