//! The gRPC API: GetItem with its precise codes, and the reflection stock
//! tooling relies on.

use contracts::template::v1 as pb;
use contracts::template::v1::template_service_client::TemplateServiceClient;
use testkit::grpc::Authorized;
use tonic::Code;

use crate::helpers::{TestApp, customer, spawn_app};

/// A client as an admin: `GetItem` reads any item (its access table).
async fn client(app: &TestApp) -> TemplateServiceClient<Authorized> {
    TemplateServiceClient::new(app.api.grpc_as_admin().await)
}

#[tokio::test]
async fn get_item_answers_with_the_item() {
    let app = spawn_app().await;
    let owner = customer();
    let item = app.new_item(&owner, "Over gRPC").await;
    let id = item["id"].as_str().unwrap().to_owned();

    let found = client(&app).await.get_item(pb::GetItemRequest { id: id.clone() }).await.unwrap().into_inner();
    assert_eq!((found.id, found.name, found.owner_id), (id, "Over gRPC".to_owned(), owner.id.to_string()));
    assert!(found.created_at.is_some());
}

#[tokio::test]
async fn get_item_is_not_found_for_an_unknown_id_and_invalid_argument_for_a_malformed_one() {
    let app = spawn_app().await;
    let mut client = client(&app).await;
    let unknown = pb::GetItemRequest { id: uuid::Uuid::now_v7().to_string() };
    assert_eq!(client.get_item(unknown).await.unwrap_err().code(), Code::NotFound);
    let malformed = pb::GetItemRequest { id: "not-a-uuid".into() };
    assert_eq!(client.get_item(malformed).await.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test]
async fn reflection_lists_the_service() {
    let app = spawn_app().await;
    let names = testkit::grpc::listed_services(testkit::grpc::channel(app.api.grpc_addr()).await).await;
    assert!(names.iter().any(|n| n == "template.v1.TemplateService"), "{names:?}");
}
