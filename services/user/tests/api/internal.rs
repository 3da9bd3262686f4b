//! A failure the service cannot classify: INTERNAL over gRPC, a 500
//! problem over REST, each with a generic message. What went wrong (here
//! SQL against a table that is gone) is for the log, never the caller.

use contracts::user::v1 as pb;
use reqwest::Method;
use tonic::Code;

use crate::helpers::{As, assert_problem, spawn_app};

/// Words of the database's own error that must not reach a client.
const LEAKS: &[&str] = &["users", "relation", "does not exist", "sqlx", "SELECT", "42P01", "database"];

#[tokio::test]
async fn a_table_dropped_under_the_service_is_internal_over_grpc_and_a_500_over_rest_without_its_cause() {
    let app = spawn_app().await;
    let id = app.new_user("ada@example.com").await;
    sqlx::query("DROP TABLE users CASCADE").execute(&app.db.pool).await.unwrap();

    let mut client = app.grpc_as_order().await;
    let status = client.get_user(pb::GetUserRequest { id: id.to_string() }).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), "internal error");

    let response = app.api.request(Method::GET, &format!("/users/{id}"), &As::admin()).send().await.unwrap();
    let problem = assert_problem(response, 500).await;
    let shown = problem.to_string();
    assert!(problem.get("detail").is_none(), "a 500 explains nothing: {shown}");
    for leak in LEAKS {
        assert!(!shown.contains(leak), "the problem holds {leak:?}: {shown}");
        assert!(!status.message().contains(leak), "the status holds {leak:?}");
    }
}
