//! Listing notifications: only the caller's (or, for an admin, anyone's),
//! newest first, a page at a time; and every way to ask wrongly.

use events::UserRegistered;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{As, TestApp, assert_problem, spawn_app};

/// Stores a welcome for `user_id` and waits for it.
async fn welcome(app: &TestApp, user_id: Uuid, name: &str) {
    let event = UserRegistered {
        user_id,
        email: format!("{}@example.com", name.to_lowercase().replace(' ', ".")),
        name: name.into(),
    };
    let envelope = app.publish("user", &event).await;
    app.wait_for_stored(envelope.id, |s| s.len() == 1).await;
}

fn subjects(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|n| n["subject"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_user_lists_only_their_own_notifications_newest_first_a_page_at_a_time() {
    let app = spawn_app().await;
    let (ada, grace) = (Uuid::now_v7(), Uuid::now_v7());
    // Stored one after the other, so "newest first" has one right answer.
    for name in ["Ada", "Ada Lovelace", "Countess"] {
        welcome(&app, ada, name).await;
    }
    welcome(&app, grace, "Grace").await;

    let first: Value =
        app.get("/notifications?limit=2", &As::customer(ada)).send().await.unwrap().json().await.unwrap();
    assert_eq!(subjects(&first), ["Welcome to switchyard, Countess", "Welcome to switchyard, Ada Lovelace"]);
    let item = &first["items"][0];
    assert_eq!(item["recipient"], "countess@example.com");
    assert_eq!(item["event_type"], "user.registered");
    assert!(["pending", "sent"].contains(&item["status"].as_str().unwrap()));
    let cursor = first["next_cursor"].as_str().expect("a next page");

    let second =
        testkit::json_of(app.get(&format!("/notifications?limit=2&cursor={cursor}"), &As::customer(ada))).await;
    assert_eq!(subjects(&second), ["Welcome to switchyard, Ada"]);
    assert!(second.get("next_cursor").is_none(), "the last page says so");

    let graces: Value = app.get("/notifications", &As::customer(grace)).send().await.unwrap().json().await.unwrap();
    assert_eq!(subjects(&graces), ["Welcome to switchyard, Grace"]);

    let for_admin: Value =
        app.get(&format!("/notifications?recipient={grace}"), &As::admin()).send().await.unwrap().json().await.unwrap();
    assert_eq!(subjects(&for_admin), ["Welcome to switchyard, Grace"], "an admin may read anyone's");

    let own = app.get(&format!("/notifications?recipient={ada}"), &As::customer(ada)).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK, "naming oneself is fine");
    let snooping = app.get(&format!("/notifications?recipient={grace}"), &As::customer(ada)).send().await.unwrap();
    assert_problem(snooping, 403).await;
}

#[tokio::test]
async fn listing_needs_an_identity_and_well_formed_parameters() {
    let app = spawn_app().await;
    let me = As::customer(Uuid::now_v7());

    let anonymous = app.api.http.get(app.api.url("/notifications")).send().await.unwrap();
    assert_problem(anonymous, 401).await;
    let anonymous_stream = app.api.http.get(app.api.url("/notifications/stream")).send().await.unwrap();
    assert_problem(anonymous_stream, 401).await;

    for bad in ["limit=0", "limit=101", "limit=ten", "limit=99999999999999999999999"] {
        let problem = assert_problem(app.get(&format!("/notifications?{bad}"), &me).send().await.unwrap(), 422).await;
        assert_eq!(problem["errors"][0]["field"], "limit", "{bad}");
    }
    let problem =
        assert_problem(app.get("/notifications?cursor=abc&recipient=%00", &me).send().await.unwrap(), 422).await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["cursor", "recipient"], "every bad field is named");

    let empty: Value = app.get("/notifications", &me).send().await.unwrap().json().await.unwrap();
    assert_eq!(empty["items"], serde_json::json!([]));
}

#[tokio::test]
async fn the_openapi_document_describes_the_list_and_the_live_stream() {
    let app = spawn_app().await;
    let doc: Value = app.api.http.get(app.api.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let list = &doc["paths"]["/notifications"]["get"];
    assert!(list["responses"]["200"].is_object() && list["responses"]["422"].is_object());
    let stream = &doc["paths"]["/notifications/stream"]["get"];
    assert!(stream["responses"]["200"]["content"]["text/event-stream"].is_object(), "{stream:#}");
    assert!(stream["responses"]["401"].is_object());
}
