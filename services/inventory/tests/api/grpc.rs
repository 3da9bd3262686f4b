//! The gRPC API: the batch read with its precise errors, and the health and
//! reflection services stock tooling relies on.

use contracts::inventory::v1 as pb;
use tonic::Code;

use crate::helpers::spawn_app;

#[tokio::test]
async fn get_products_answers_a_batch_and_lists_what_is_missing() {
    let app = spawn_app().await;
    app.create_product("SKU-KETTLE", 3499, 7).await;
    app.create_product("SKU-MUG", 899, 3).await;

    let skus = ["SKU-MUG", "SKU-GHOST", "SKU-KETTLE", "SKU-MUG", "not a sku", "NUL\0"];
    let request = pb::GetProductsRequest { skus: skus.iter().map(|s| (*s).to_owned()).collect() };
    let response = app.grpc_as_order().await.get_products(request).await.unwrap().into_inner();

    let found: Vec<(&str, i64, i64)> = response.products.iter().map(|p| (p.sku.as_str(), p.price, p.stock)).collect();
    assert_eq!(found, [("SKU-MUG", 899, 3), ("SKU-KETTLE", 3499, 7)], "in the order asked, each once");
    assert_eq!(response.products[1].name, "Product SKU-KETTLE");
    assert_eq!(response.missing, ["SKU-GHOST", "not a sku", "NUL\0"]);
}

#[tokio::test]
async fn get_products_refuses_an_empty_or_oversized_batch() {
    let app = spawn_app().await;
    let mut client = app.grpc_as_order().await;
    for count in [0, 101] {
        let skus = (0..count).map(|n| format!("SKU-{n}")).collect();
        let status = client.get_products(pb::GetProductsRequest { skus }).await.unwrap_err();
        testkit::grpc::assert_invalid_field(&status, "skus");
    }
    let hundred = (0..100).map(|n| format!("SKU-{n}")).collect();
    let response = client.get_products(pb::GetProductsRequest { skus: hundred }).await.unwrap().into_inner();
    assert_eq!(response.missing.len(), 100, "100 is allowed");
}

#[tokio::test]
async fn watching_a_malformed_sku_is_invalid_argument() {
    let app = spawn_app().await;
    let request = pb::WatchStockRequest { skus: vec!["SKU-OK".into(), "lower".into()] };
    let status = app.grpc().await.watch_stock(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn reflection_lists_the_service_beside_health_and_reflection() {
    let app = spawn_app().await;
    let names = testkit::grpc::listed_services(testkit::grpc::channel(app.api.grpc_addr()).await).await;
    for expected in ["inventory.v1.InventoryService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"] {
        assert!(names.iter().any(|n| n == expected), "{expected} is listed in {names:?}");
    }
}
