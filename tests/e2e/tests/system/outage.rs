//! A service stopped in the middle: the gateway fails fast for its routes
//! and recovers when it is back; the consumer processes its backlog.

use std::time::Duration;

use e2e::{Api, System, items};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_service_fails_fast_at_the_gateway_and_catches_up_on_return() {
    let mut system = System::start("rabbitmq").await.expect("the system starts");
    let api = Api::new(&system.gateway);
    let (_, token) = api.new_customer("Grace").await;
    let customer = api.with_token(&token);
    let (status, _) = customer.get("/api/notifications").await;
    assert_eq!(status, StatusCode::OK);

    system.stop("notification").await.unwrap();
    let started = tokio::time::Instant::now();
    let (status, problem) = customer.get("/api/notifications").await;
    assert!(
        status == StatusCode::BAD_GATEWAY || status == StatusCode::SERVICE_UNAVAILABLE,
        "a stopped upstream is answered at once with 502/503, got {status}: {problem}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "no hang: {:?}", started.elapsed());

    // While notification is down, an order goes through the saga; its
    // events wait in notification's queue.
    let admin = api.with_token(&api.login(e2e::ADMIN_EMAIL, e2e::admin_password()).await);
    let sku = format!("OUT-{}", &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase());
    let (status, _) =
        admin.post("/api/products", json!({ "sku": sku, "name": "Outage mug", "price": 900, "stock": 5 })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, order) = customer.place_order(json!([{ "sku": sku, "quantity": 1 }])).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = order["id"].as_str().unwrap().to_owned();
    let confirmed = customer
        .poll(&format!("/api/orders/{order_id}"), Duration::from_secs(45), |o| o["status"] == "CONFIRMED")
        .await;
    assert_eq!(confirmed["status"], "CONFIRMED", "the saga does not need notification: {confirmed}");

    system.restart("notification").await.unwrap();
    let notes = customer
        .poll("/api/notifications", Duration::from_secs(45), |page| {
            items(page).iter().any(|n| n.to_string().contains(&order_id))
        })
        .await;
    assert!(
        items(&notes).iter().any(|n| n.to_string().contains(&order_id)),
        "the backlog is processed on return, nothing lost: {notes}"
    );
}
