//! The gRPC API: the four methods, their precise error codes, and the
//! health and reflection services stock tooling relies on.

use contracts::user::v1 as pb;
use contracts::user::v1::update_result::Outcome;
use futures::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn create_then_get_a_user_with_precise_errors() {
    let app = spawn_app().await;
    let mut client = app.grpc().await;

    let created = client
        .create_user(pb::CreateUserRequest {
            email: "Linus@Example.com".into(),
            name: "Linus".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(created.email, "linus@example.com");
    assert_eq!(created.roles, ["customer"]);

    let mut order = app.grpc_as_order().await;
    let fetched =
        order.get_user(pb::GetUserRequest { id: created.id.clone() }).await.unwrap().into_inner().user.unwrap();
    assert_eq!(fetched, created);

    let duplicate = client
        .create_user(pb::CreateUserRequest {
            email: "linus@example.com".into(),
            name: "L".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);

    let invalid = client
        .create_user(pb::CreateUserRequest { email: "nope".into(), name: String::new(), password: "short".into() })
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let mut fields: Vec<String> = invalid
        .get_details_bad_request()
        .expect("field violations")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    fields.sort();
    assert_eq!(fields, ["email", "name", "password"]);

    let unknown = order.get_user(pb::GetUserRequest { id: uuid::Uuid::now_v7().to_string() }).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = order.get_user(pb::GetUserRequest { id: "42".into() }).await.unwrap_err();
    testkit::grpc::assert_invalid_field(&malformed, "id");
}

#[tokio::test]
async fn list_users_streams_ten_thousand_users_complete_and_in_order() {
    let app = spawn_app().await;
    app.insert_users_by_sql(10_000, 0).await;
    let mut expected: Vec<String> =
        sqlx::query_scalar("SELECT id::text FROM users").fetch_all(&app.db.pool).await.unwrap();
    expected.sort();

    let mut stream = app
        .grpc()
        .await
        .list_users(pb::ListUsersRequest { limit: 0, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let mut received = Vec::with_capacity(10_000);
    while let Some(user) = stream.next().await {
        received.push(user.unwrap().id);
    }
    assert_eq!(received.len(), 10_000);
    assert_eq!(received, expected, "every user, once, in id order");

    let limited = app
        .grpc()
        .await
        .list_users(pb::ListUsersRequest { limit: 7, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(limited.count().await, 7);
}

#[tokio::test]
async fn update_users_applies_each_item_and_reports_each_outcome() {
    let app = spawn_app().await;
    let first = app.new_user("one@example.com").await.to_string();
    let second = app.new_user("two@example.com").await.to_string();
    let unknown = uuid::Uuid::now_v7().to_string();

    let items = vec![
        pb::UpdateUserRequest { id: first.clone(), name: Some("Renamed".into()), email: None },
        pb::UpdateUserRequest { id: unknown.clone(), name: Some("Ghost".into()), email: None },
        pb::UpdateUserRequest { id: "not-a-uuid".into(), name: Some("X".into()), email: None },
        pb::UpdateUserRequest { id: second.clone(), name: None, email: Some("bad email".into()) },
        pb::UpdateUserRequest { id: second.clone(), name: None, email: Some("one@example.com".into()) },
        pb::UpdateUserRequest { id: second.clone(), name: None, email: None },
        pb::UpdateUserRequest { id: second.clone(), name: None, email: Some("Two.New@example.com".into()) },
    ];
    let response = app.grpc().await.update_users(tokio_stream::iter(items)).await.unwrap().into_inner();

    assert_eq!((response.updated, response.not_found, response.invalid), (2, 1, 4));
    let outcomes: Vec<(u32, Outcome)> = response.results.iter().map(|r| (r.index, r.outcome())).collect();
    assert_eq!(
        outcomes,
        [
            (0, Outcome::Updated),
            (1, Outcome::NotFound),
            (2, Outcome::Invalid),
            (3, Outcome::Invalid),
            (4, Outcome::Invalid),
            (5, Outcome::Invalid),
            (6, Outcome::Updated),
        ]
    );
    assert!(response.results[3].reason.contains("email"), "invalid items say why: {}", response.results[3].reason);

    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT email, name FROM users ORDER BY email").fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(
        rows,
        [("one@example.com".into(), "Renamed".into()), ("two.new@example.com".into(), "Test User".into())]
    );
}

#[tokio::test]
async fn reflection_lists_the_services_and_health_answers_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let app = spawn_app().await;
    let channel = testkit::grpc::channel(app.api.grpc_addr()).await;
    let names = testkit::grpc::listed_services(channel.clone()).await;
    for expected in ["user.v1.UserService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"] {
        assert!(names.iter().any(|n| n == expected), "{expected} is listed in {names:?}");
    }

    // Reflection also serves the file that defines a symbol, so a client
    // can build requests without having the .proto.
    let reply =
        testkit::grpc::reflect(channel.clone(), MessageRequest::FileContainingSymbol("user.v1.UserService".into()))
            .await;
    assert!(matches!(reply, MessageResponse::FileDescriptorResponse(files) if !files.file_descriptor_proto.is_empty()));

    for service in ["", "user.v1.UserService"] {
        assert_eq!(testkit::grpc::health(channel.clone(), service).await, ServingStatus::Serving, "{service:?}");
    }
}
