//! A saga stranded by a dead letter, and the person on call who finishes
//! it: the order service cannot apply `inventory.reserved` for longer than
//! its retry span (its inbox table is away, as in a migration gone wrong),
//! so the event is dead-lettered and the order stays PENDING; once the
//! table is back, `dlq replay` completes the saga, once.

use std::time::Duration;

use e2e::{Api, Options, System, items};
use reqwest::StatusCode;
use serde_json::json;

/// Order's dead letters as `dlq list order --json` shows them.
async fn dead_letters(system: &System) -> Vec<serde_json::Value> {
    let (code, out) = system.dlq(&["list", "order", "--json"]).await;
    assert_eq!(code, 0, "{out}");
    out.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
}

async fn rename(system: &System, from: &str, to: &str) {
    let db = sqlx::PgPool::connect(&system.database_url("order")).await.unwrap();
    let statement = format!("ALTER TABLE {from} RENAME TO {to}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&db).await.unwrap();
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replaying_a_dead_lettered_reservation_completes_the_stranded_saga_once() {
    let options = Options { env: vec![("BROKER_RETRY_SPAN_SECS", "2".into())], ..Default::default() };
    let system = System::start_with("rabbitmq", options).await.expect("the system starts");
    let api = Api::new(&system.gateway);
    let (_, token) = api.new_customer("Ada").await;
    let customer = api.with_token(&token);
    let admin = api.with_token(&api.login(e2e::ADMIN_EMAIL, e2e::admin_password()).await);
    let sku = format!("DLQ-{}", &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase());
    let (status, _) =
        admin.post("/api/products", json!({ "sku": sku, "name": "Replayed mug", "price": 700, "stock": 3 })).await;
    assert_eq!(status, StatusCode::CREATED);

    rename(&system, "comms_inbox", "comms_inbox_away").await;
    let (status, order) = customer.place_order(json!([{ "sku": sku, "quantity": 1 }])).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = order["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let letter = loop {
        if let Some(letter) = dead_letters(&system).await.into_iter().find(|l| l["type"] == "inventory.reserved") {
            break letter;
        }
        assert!(tokio::time::Instant::now() < deadline, "inventory.reserved was never dead-lettered by order");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(letter["reason"].as_str().unwrap().contains("comms_inbox"), "{letter}");
    rename(&system, "comms_inbox_away", "comms_inbox").await;
    let (_, stranded) = customer.get(&format!("/api/orders/{order_id}")).await;
    assert_eq!(stranded["status"], "PENDING", "stranded until someone acts: {stranded}");

    let id = letter["id"].as_str().unwrap();
    let (code, out) = system.dlq(&["replay", id]).await;
    assert_eq!(code, 0, "{out}");
    let confirmed = customer
        .poll(&format!("/api/orders/{order_id}"), Duration::from_secs(30), |o| o["status"] == "CONFIRMED")
        .await;
    assert_eq!(confirmed["status"], "CONFIRMED", "{confirmed}");
    let about_it = |page: &serde_json::Value| items(page).iter().filter(|n| n.to_string().contains(&order_id)).count();
    let notes = customer.poll("/api/notifications", Duration::from_secs(30), |page| about_it(page) >= 1).await;
    assert_eq!(about_it(&notes), 1, "one notification of the confirmation: {notes}");

    let (code, out) = system.dlq(&["replay", id]).await;
    assert_eq!(code, 2, "the same dead letter cannot be replayed twice: {out}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, notes) = customer.get("/api/notifications").await;
    assert_eq!(about_it(&notes), 1, "nothing more happened: {notes}");
    assert!(dead_letters(&system).await.is_empty(), "order has no dead letters left");
}
