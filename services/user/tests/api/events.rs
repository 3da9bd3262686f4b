//! `user.registered` leaves through the outbox, with the user, exactly once.

use std::time::Duration;

use events::UserRegistered;
use testkit::EventProbe;

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn registering_publishes_user_registered_once() {
    let app = spawn_app().await;
    let probe = EventProbe::start(&app.broker, &["user.registered"]).await;

    let response = app.register("ada@example.com", "Ada", PASSWORD).await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let id: uuid::Uuid = body["id"].as_str().unwrap().parse().unwrap();

    let seen = probe.wait_for::<UserRegistered>(1, Duration::from_secs(20), |e| e.user_id == id).await;
    assert_eq!(seen, vec![UserRegistered { user_id: id, email: "ada@example.com".into(), name: "Ada".into() }]);

    // A refused duplicate registration writes no event: the outbox row
    // commits with the user or not at all.
    assert_eq!(app.register("ada@example.com", "Ada again", PASSWORD).await.status(), 409);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM comms_outbox").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(rows, 1);
}
