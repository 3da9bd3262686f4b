//! The consumer records each event once, however often the broker delivers
//! it: the inbox absorbs the redelivery.
//!
//! The test publishes a `user.registered`, as the user service would: change
//! it to a type the service consumes if it does not consume that one.

use std::collections::HashMap;

use comms::messaging::{Destination, Envelope, Event, OutgoingMessage};
use testkit::otlp::RecordedSpan;
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_event_delivered_twice_is_recorded_once() {
    let app = spawn_app().await;
    let user_id = Uuid::now_v7();
    let event = events::UserRegistered { user_id, email: format!("{user_id}@example.com"), name: "Ada".into() };
    let envelope = Envelope::new("user", &event, None);

    // Both deliveries carry one trace, so the test sees when the service
    // has handled them both.
    let trace_id = Uuid::new_v4().simple().to_string();
    let traceparent = format!("00-{trace_id}-{}-01", &Uuid::new_v4().simple().to_string()[..16]);
    let message = OutgoingMessage::from_envelope(
        &envelope,
        Destination::Event,
        HashMap::from([("traceparent".to_owned(), traceparent)]),
    );
    let (broker, _) = app.broker.connect("publisher").await.expect("connect to the broker");
    for _ in 0..2 {
        for outcome in broker.publish(std::slice::from_ref(&message)).await {
            outcome.expect("the broker takes the event");
        }
    }
    let handled = |spans: &[RecordedSpan]| {
        spans.iter().filter(|s| s.attribute("messaging.operation.type") == Some("process")).count()
    };
    let spans = testkit::otlp().wait_for(&trace_id, |spans| handled(spans) >= 2).await;
    assert_eq!(handled(&spans), 2, "the service handled both deliveries");

    let rows: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT event_id, event_type, subject FROM received").fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(rows, [(envelope.id, events::UserRegistered::TYPE.to_owned(), user_id.to_string())]);
}
