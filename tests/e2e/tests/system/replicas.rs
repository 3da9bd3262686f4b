//! Two instances each of order, inventory and notification behind one
//! gateway, authenticated as always: the work spreads over them, each event
//! is handled once per consuming service, a SIGKILLed instance holding
//! deliveries loses none, and a registry that forgets everything lists
//! every instance again.

use std::time::Duration;

use e2e::{Api, Options, System};
use reqwest::StatusCode;
use serde_json::json;

const SETTLE: Duration = Duration::from_secs(60);
const STOCK: i64 = 200;

/// The sum of `name`'s samples whose labels contain every one of `labels`,
/// read from `instance`'s own metrics listener.
async fn metric(system: &System, instance: &str, name: &str, labels: &[&str]) -> f64 {
    let url = format!("http://{}/metrics", system.metrics_addr(instance));
    let text = reqwest::get(url).await.expect("metrics answer").text().await.expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Each instance's share of `name`: every one must carry at least a
/// quarter of the total.
async fn assert_spread(system: &System, service: &str, name: &str, labels: &[&str]) {
    let mut counts = Vec::new();
    for instance in system.instances(service) {
        counts.push((instance, metric(system, instance, name, labels).await));
    }
    let total: f64 = counts.iter().map(|(_, n)| n).sum();
    assert!(total > 0.0, "{service}: no {name} at all");
    for (instance, n) in &counts {
        assert!(*n >= total / 4.0, "{instance} has {n} of {total} {name} {labels:?}: not a quarter ({counts:?})");
    }
}

async fn sql(url: &str, query: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.expect("the service's database");
    let value: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_owned())).fetch_one(&pool).await.expect("query");
    pool.close().await;
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_each_share_the_work_handle_each_event_once_and_lose_nothing_to_a_sigkill() {
    let options = Options {
        replicas: vec![("order", 2), ("inventory", 2), ("notification", 2)],
        slow_database_for: Some("inventory-2"),
        ..Options::default()
    };
    let mut system = System::start_with("rabbitmq", options).await.expect("the system starts");
    let api = Api::new(&system.gateway);
    let admin = api.with_token(&api.login(e2e::ADMIN_EMAIL, e2e::admin_password()).await);
    let sku = format!("REPL-{}", &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase());
    let (status, product) =
        admin.post("/api/products", json!({ "sku": sku, "name": "Replica crate", "price": 100, "stock": STOCK })).await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let mut customers = Vec::new();
    for n in 0..4 {
        customers.push(api.with_token(&api.new_customer(&format!("replica{n}")).await.1));
    }

    // Orders one after another: the gateway spreads the requests, the
    // queues the deliveries.
    let mut placed = Vec::new();
    for n in 0..24 {
        let (status, order) = customers[n % 4].place_order(json!([{ "sku": sku, "quantity": 1 }])).await;
        assert_eq!(status, StatusCode::CREATED, "{order}");
        placed.push((n % 4, order["id"].as_str().expect("an id").to_owned()));
    }
    for (customer, id) in &placed {
        let order =
            customers[*customer].poll(&format!("/api/orders/{id}"), SETTLE, |o| o["status"] == "CONFIRMED").await;
        assert_eq!(order["status"], "CONFIRMED", "{order}");
    }
    assert_spread(&system, "order", "http_server_requests_total", &["method=\"POST\"", "route=\"/orders\""]).await;
    assert_spread(&system, "inventory", "grpc_server_requests_total", &["GetProducts"]).await;
    assert_spread(&system, "inventory", "deliveries_total", &["subscription=\""]).await;
    let orders_db = system.database_url("order");
    let notifications_db = system.database_url("notification");
    let inventory_db = system.database_url("inventory");
    // Once per consuming service: one notification per confirmed order.
    let deadline = tokio::time::Instant::now() + SETTLE;
    let confirmed_notes = "SELECT count(*) FROM notifications WHERE event_type = 'order.confirmed'";
    while sql(&notifications_db, confirmed_notes).await < 24 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(sql(&notifications_db, confirmed_notes).await, 24, "one notification per confirmed order");
    let doubled =
        "SELECT count(*) FROM (SELECT subject FROM notifications GROUP BY subject, recipient HAVING count(*) > 1) d";
    assert_eq!(sql(&notifications_db, doubled).await, 0, "none twice");
    assert_spread(&system, "notification", "deliveries_total", &["subscription=\""]).await;

    // inventory-2 now takes over a second per reservation: the deliveries
    // it holds are in flight when it is killed.
    system.database_proxy().add_latency(Duration::from_millis(500));
    // A placement whose price lookup lands on the slowed inventory-2 times
    // out (504) and is no order; the others are.
    let mut more = Vec::new();
    for n in 0..12 {
        let (status, order) = customers[n % 4].place_order(json!([{ "sku": sku, "quantity": 2 }])).await;
        if status == StatusCode::CREATED {
            more.push((n % 4, order["id"].as_str().expect("an id").to_owned()));
        }
    }
    assert!(more.len() >= 3, "most placements went through inventory (the first): {}", more.len());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut holding = 0.0;
    while holding == 0.0 && tokio::time::Instant::now() < deadline {
        holding = metric(&system, "inventory-2", "deliveries_in_flight", &["subscription=\""]).await;
    }
    assert!(holding > 0.0, "inventory-2 held deliveries when it was killed");
    system.kill("inventory-2").await.expect("SIGKILL");
    system.database_proxy().restore();
    println!("SIGKILLed inventory-2 holding {holding} deliveries");

    for (customer, id) in &more {
        let order =
            customers[*customer].poll(&format!("/api/orders/{id}"), SETTLE, |o| o["status"] == "CONFIRMED").await;
        assert_eq!(order["status"], "CONFIRMED", "every order settles after the kill: {order}");
    }
    let (_, product) = api.get(&format!("/api/products/{sku}")).await;
    let confirmed = sql(
        &orders_db,
        &format!(
            "SELECT coalesce(sum(l.quantity), 0)::bigint FROM order_lines l JOIN orders o ON o.id = l.order_id \
         WHERE o.status = 'CONFIRMED' AND l.sku = '{sku}'"
        ),
    )
    .await;
    assert_eq!(product["stock"].as_i64().expect("stock") + confirmed, STOCK, "stock conserved: {product}");
    let reserved = sql(&inventory_db, "SELECT count(*) FROM reservations WHERE status = 'reserved'").await;
    assert_eq!(reserved, 24 + more.len() as i64, "every order reserved (one row per order by its key)");

    // A registry that restarted empty lists every instance again.
    system.consul.forget_everything();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    // Every instance still running (inventory-2 was killed; the gateway
    // registers nothing).
    let running: Vec<(&str, &str)> = e2e::SERVICES
        .iter()
        .filter(|service| **service != "gateway")
        .flat_map(|service| system.instances(service).into_iter().map(move |instance| (*service, instance)))
        .collect();
    assert_eq!(running.len(), 7, "{running:?}");
    let everyone = || running.iter().all(|(service, instance)| system.is_listed(service, instance));
    while !everyone() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(everyone(), "every instance is listed again within the bound");
}
