//! The gRPC API: GetOrder with its precise error codes, and the health and
//! reflection services stock tooling relies on.

use contracts::order::v1 as pb;
use tonic::Code;

use crate::helpers::spawn_app;

#[tokio::test]
async fn get_order_returns_the_order_or_a_precise_error() {
    let app = spawn_app().await;
    let me = app.customer();
    let placed = app.place_ok(&me, &[("MOUSE", 2), ("CABLE", 1)]).await;
    let id = placed["id"].as_str().unwrap().to_owned();
    let mut client = app.grpc().await;

    let order = client.get_order(pb::GetOrderRequest { id: id.clone() }).await.unwrap().into_inner();
    assert_eq!(order.id, id);
    assert_eq!(order.customer_id, me.id.to_string());
    assert_eq!(order.status, "PENDING");
    assert_eq!(order.total, 2 * 1_999 + 499);
    assert_eq!(order.reason, "");
    assert_eq!(
        order.lines,
        [
            pb::OrderLine { sku: "CABLE".into(), quantity: 1, unit_price: 499 },
            pb::OrderLine { sku: "MOUSE".into(), quantity: 2, unit_price: 1_999 },
        ]
    );
    let created = order.created_at.unwrap();
    let expected: chrono::DateTime<chrono::Utc> = placed["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(created.seconds, expected.timestamp());

    let unknown = client.get_order(pb::GetOrderRequest { id: uuid::Uuid::now_v7().to_string() }).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = client.get_order(pb::GetOrderRequest { id: "not-an-id".into() }).await.unwrap_err();
    testkit::grpc::assert_invalid_field(&malformed, "id");
}

#[tokio::test]
async fn reflection_lists_the_order_service_and_health_answers_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;

    let app = spawn_app().await;
    let channel = testkit::grpc::channel(app.api.grpc_addr()).await;
    let names = testkit::grpc::listed_services(channel.clone()).await;
    for expected in ["order.v1.OrderService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"] {
        assert!(names.iter().any(|n| n == expected), "{expected} is listed in {names:?}");
    }

    for service in ["", "order.v1.OrderService"] {
        assert_eq!(testkit::grpc::health(channel.clone(), service).await, ServingStatus::Serving, "{service:?}");
    }
}
