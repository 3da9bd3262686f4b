//! Delivery over SMTP, as a task on a work queue: a real SMTP conversation
//! with the test kit's sink, retries when it refuses, and the dead-letter
//! queue when it keeps refusing, with the notification kept, not lost.

use std::sync::Arc;

use comms::messaging::broker::headers;
use comms::messaging::{Envelope, Subscription};
use events::UserRegistered;
use notification::delivery::{DeliverNotification, QUEUE};
use testkit::SmtpSink;
use testkit::broker_conformance::Recorder;
use testkit::smtp::FailAt;
use uuid::Uuid;

use crate::helpers::{PATIENCE, TestApp, smtp_to, spawn_app_with};

fn ada() -> UserRegistered {
    UserRegistered { user_id: Uuid::now_v7(), email: "ada@example.com".into(), name: "Ada".into() }
}

/// What reaches the delivery queue's dead-letter queue.
async fn dead_letters(app: &TestApp) -> Recorder {
    let dead = Recorder::new();
    app.probe.subscribe(Subscription::dead_letters(QUEUE), Arc::new(dead.clone())).await.unwrap();
    dead
}

#[tokio::test]
async fn a_notification_is_delivered_to_its_recipient_over_smtp() {
    let sink = SmtpSink::start().await.unwrap();
    let app = spawn_app_with(|s| smtp_to(s, sink.addr())).await;

    let envelope = app.publish("user", &ada()).await;
    assert!(sink.wait_for(1, PATIENCE).await, "the sink received a message");
    let message = &sink.messages()[0];
    assert_eq!(message.from, "notifications@switchyard.test");
    assert_eq!(message.recipients, ["ada@example.com"]);
    assert_eq!(message.header("Subject").as_deref(), Some("Welcome to switchyard, Ada"));
    assert_eq!(message.header("To").as_deref(), Some("<ada@example.com>"));
    assert_eq!(message.header("Content-Transfer-Encoding").as_deref(), Some("quoted-printable"));
    assert!(message.data.contains("\r\n\r\nHello Ada,\r\n"), "headers, a blank line, the body: {}", message.data);

    let stored = app.wait_for_stored(envelope.id, |s| s.len() == 1 && s[0].status == "sent").await;
    assert_eq!(stored[0].attempts, 1);
    assert_eq!(
        message.header("Message-ID").unwrap(),
        format!("<{}@switchyard.test>", stored[0].id),
        "the message names the notification"
    );
}

#[tokio::test]
async fn a_refused_delivery_is_retried_then_dead_lettered_and_the_notification_is_kept_as_failed() {
    let sink = SmtpSink::start().await.unwrap();
    sink.fail(Some((FailAt::Mail, 451)));
    // Retry delays 100 and 200 ms: three attempts in all.
    let app = spawn_app_with(|s| smtp_to(s, sink.addr())).await;
    let dead = dead_letters(&app).await;

    let envelope = app.publish("user", &ada()).await;
    assert!(dead.wait_for(1, PATIENCE).await, "the task was dead-lettered");
    assert_eq!(sink.attempts(), 3, "three attempts reached the server, then no more");
    assert!(sink.messages().is_empty());

    let letter = &dead.deliveries()[0];
    let reason = &letter.headers[headers::DEATH_REASON];
    assert!(reason.contains("451"), "the reason names the server's answer: {reason}");
    let task = Envelope::from_bytes(&letter.body).unwrap().decode::<DeliverNotification>().unwrap();

    let stored = app.wait_for_stored(envelope.id, |s| s.len() == 1 && s[0].status == "failed").await;
    assert_eq!(task.notification_id, stored[0].id, "the dead letter names the notification");
    assert_eq!(stored[0].attempts, 3);
    assert!(stored[0].last_error.as_deref().is_some_and(|e| e.contains("451")), "{:?}", stored[0].last_error);
    assert!(stored[0].sent_at.is_none());
}

#[tokio::test]
async fn a_permanent_refusal_is_dead_lettered_without_retrying() {
    let sink = SmtpSink::start().await.unwrap();
    // A 5xx after the message: the server will not take it, ever.
    sink.fail(Some((FailAt::Data, 554)));
    let app = spawn_app_with(|s| smtp_to(s, sink.addr())).await;
    let dead = dead_letters(&app).await;

    let envelope = app.publish("user", &ada()).await;
    assert!(dead.wait_for(1, PATIENCE).await, "the task was dead-lettered");
    assert_eq!(sink.attempts(), 1, "RFC 5321: a 5yz reply is not to be repeated");
    let stored = app.wait_for_stored(envelope.id, |s| s.len() == 1 && s[0].status == "failed").await;
    assert_eq!(stored[0].attempts, 1);
    assert!(stored[0].last_error.as_deref().is_some_and(|e| e.contains("554")));
}

#[tokio::test]
async fn a_delivery_that_failed_for_a_while_succeeds_when_the_server_recovers() {
    let sink = SmtpSink::start().await.unwrap();
    sink.fail(Some((FailAt::Mail, 451)));
    let app = spawn_app_with(|s| {
        smtp_to(s, sink.addr());
        // Long enough to switch the server back on between attempts.
        s.own.delivery_retry_delays_ms = vec![500, 500, 500];
    })
    .await;

    let envelope = app.publish("user", &ada()).await;
    assert!(sink.wait_for_attempts(1, PATIENCE).await);
    sink.fail(None);
    assert!(sink.wait_for(1, PATIENCE).await, "a later attempt got through");
    let stored = app.wait_for_stored(envelope.id, |s| s.len() == 1 && s[0].status == "sent").await;
    assert!(stored[0].attempts >= 2, "the failed attempt counts: {}", stored[0].attempts);
    assert!(stored[0].last_error.is_none(), "a delivered notification has no error left");
}
