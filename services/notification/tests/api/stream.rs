//! The live stream: Server-Sent Events of the caller's new notifications,
//! fed through PostgreSQL LISTEN/NOTIFY.

use std::time::Duration;

use events::UserRegistered;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{As, PATIENCE, TestApp, spawn_app, spawn_app_with};

/// Reads an SSE response event by event.
struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    /// The next event's `event` and `data` fields (comments skipped), or
    /// `None` when the stream ends; panics past `PATIENCE`.
    async fn next(&mut self) -> Option<(String, String)> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .filter_map(|l| l.strip_prefix(name))
                        .map(str::trim_start)
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                let data = field("data:");
                if !data.is_empty() {
                    return Some((field("event:"), data));
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("an event within the deadline")
                .expect("the stream reads");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk?));
        }
    }
}

#[tokio::test]
async fn a_new_notification_arrives_on_the_callers_live_stream_and_no_one_elses() {
    let app = spawn_app().await;
    let (ada, grace) = (Uuid::now_v7(), Uuid::now_v7());
    let response = app.get("/notifications/stream", &As::customer(ada)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = EventReader { response, buffer: String::new() };

    // Grace's first, and stored, so that if the stream leaked it, it would
    // be the first event read.
    let theirs = UserRegistered { user_id: grace, email: "grace@example.com".into(), name: "Grace".into() };
    let envelope = app.publish("user", &theirs).await;
    app.wait_for_stored(envelope.id, |s| s.len() == 1).await;
    let mine = UserRegistered { user_id: ada, email: "ada@example.com".into(), name: "Ada".into() };
    let envelope = app.publish("user", &mine).await;

    let (event, data) = stream.next().await.expect("an event");
    assert_eq!(event, "notification");
    let notification: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(notification["subject"], "Welcome to switchyard, Ada");
    assert_eq!(notification["recipient"], "ada@example.com");
    assert_eq!(notification["event_id"], envelope.id.to_string());
}

#[tokio::test]
async fn live_streams_end_when_the_service_shuts_down() {
    let app = spawn_app().await;
    let response = app.get("/notifications/stream", &As::customer(Uuid::now_v7())).send().await.unwrap();
    let mut stream = EventReader { response, buffer: String::new() };

    app.api.shutdown.trigger();
    // Promptly: well within the 5 s grace the server would otherwise wait.
    let ended = tokio::time::timeout(Duration::from_secs(4), async {
        let last = stream.next().await;
        (last, stream.next().await)
    })
    .await;
    assert!(
        matches!(&ended, Ok((Some((event, _)), None)) if event == "end"),
        "the stream ended with its last event instead of holding up the drain: {ended:?}"
    );
}

#[tokio::test]
async fn an_idle_stream_gets_keep_alive_comments() {
    let app = spawn_app_with(|s| s.own.stream_keep_alive_secs = 1).await;
    let mut response = app.get("/notifications/stream", &As::customer(Uuid::now_v7())).send().await.unwrap();
    let chunk = tokio::time::timeout(PATIENCE, response.chunk()).await.expect("a keep-alive").unwrap().unwrap();
    assert!(chunk.starts_with(b":"), "an SSE comment line: {chunk:?}");
}

async fn open(app: &TestApp, user: Uuid) -> reqwest::Response {
    app.get("/notifications/stream", &As::customer(user)).send().await.unwrap()
}

#[tokio::test]
async fn a_users_fifth_stream_gets_429_while_another_users_opens() {
    let app = spawn_app().await;
    let (ada, grace) = (Uuid::now_v7(), Uuid::now_v7());
    let mut held = Vec::new();
    for n in 1..=4 {
        let response = open(&app, ada).await;
        assert_eq!(response.status(), 200, "stream {n} of the default 4");
        held.push(response);
    }
    let refused = open(&app, ada).await;
    assert_eq!(refused.headers()["retry-after"], "5");
    let problem = testkit::assert_problem(refused, 429).await;
    assert!(problem["detail"].as_str().unwrap().contains("4 streams"), "{problem}");
    assert_eq!(open(&app, grace).await.status(), 200, "another user's stream opens");
}

#[tokio::test]
async fn a_stream_ends_cleanly_at_its_lifetime_and_the_reconnected_client_keeps_receiving() {
    let app = spawn_app_with(|s| s.service.streams.max_lifetime_secs = 3).await;
    let ada = Uuid::now_v7();
    let mut stream = EventReader { response: open(&app, ada).await, buffer: String::new() };
    // The end is an event and then the end of the body: no reset, which
    // `next` would panic on.
    let (event, _) = stream.next().await.expect("a last event");
    assert_eq!(event, "end");
    assert!(stream.next().await.is_none(), "the body ends after it");

    // As a browser's EventSource does: open again at once.
    let mut stream = EventReader { response: open(&app, ada).await, buffer: String::new() };
    let mine = UserRegistered { user_id: ada, email: "ada@example.com".into(), name: "Ada".into() };
    let envelope = app.publish("user", &mine).await;
    let (event, data) = stream.next().await.expect("an event");
    assert_eq!(event, "notification", "{data}");
    let notification: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(notification["event_id"], envelope.id.to_string());
}
