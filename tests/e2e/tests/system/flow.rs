//! The main flow (the order saga) on each broker, and the trace it leaves.

use std::time::Duration;

use e2e::{Api, System, items};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::otlp::RecordedSpan;

const SAGA: Duration = Duration::from_secs(45);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_order_saga_runs_end_to_end_on_rabbitmq_and_leaves_one_trace() {
    let system = System::start("rabbitmq").await.expect("the system starts");
    main_flow(&system, true).await;
    each_service_used_its_own_role_and_broker_user(&system).await;
}

/// Least privilege, as the flow ran it: the service's own connections
/// (named by their `application_name`) use its role, and no connection to
/// its database uses another; each service that uses the broker holds a
/// connection as its own user (the broker lists who logged in).
async fn each_service_used_its_own_role_and_broker_user(system: &System) {
    use sqlx::Connection;

    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", testkit::db::server_url())).await.unwrap();
    let listed = testkit::rabbitmqctl().args(["-q", "list_connections", "--no-table-headers", "user"]).output();
    let broker_users = String::from_utf8(listed.expect("rabbitmqctl").stdout).unwrap();
    for service in e2e::SERVICES.iter().filter(|s| **s != "gateway") {
        let url = system.database_url(service);
        let database = url.rsplit('/').next().unwrap();
        let connections: Vec<(String, String)> = sqlx::query_as(
            "SELECT usename::text, application_name FROM pg_stat_activity WHERE datname = $1 AND usename IS NOT NULL",
        )
        .bind(database)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        // TestDatabase names each database's role after it (and holds a
        // pool of its own as that role, without an application name).
        assert!(
            connections.iter().all(|(role, _)| role.as_str() == database),
            "only {service}'s role: {connections:?}"
        );
        assert!(
            connections.iter().any(|(_, app)| app.as_str() == *service),
            "{service}'s own connections: {connections:?}"
        );
        let user = format!("{}{service}", system.broker.broker_namespace);
        assert!(broker_users.lines().any(|line| line.trim() == user), "{service} logged in as {user}: {broker_users}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_order_saga_runs_end_to_end_on_kafka() {
    if !kafka_available().await {
        return;
    }
    let system = System::start("kafka").await.expect("the system starts on kafka");
    main_flow(&system, false).await;
    println!("KAFKA TEST RAN: the whole system on Kafka");
}

async fn main_flow(system: &System, check_trace: bool) {
    let api = Api::new(&system.gateway);
    let (_, token) = api.new_customer("Ada").await;
    let customer = api.with_token(&token);
    let admin = api.with_token(&api.login(e2e_admin().0, e2e_admin().1).await);

    // An admin creates a product.
    let sku = format!("E2E-{}", &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase());
    let (status, product) =
        admin.post("/api/products", json!({ "sku": sku, "name": "Test kettle", "price": 2500, "stock": 3 })).await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let (status, _) =
        customer.post("/api/products", json!({ "sku": "NOPE-1", "name": "x", "price": 1, "stock": 1 })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "customers cannot create products");

    // The happy path: CONFIRMED, stock reduced, notified, counted. The
    // client sends a trace context of its own, marked not sampled: the
    // gateway decides tracing, so the order is traced anyway, under a new
    // trace that links the client's.
    // It also sends a request id of its own, as `just demo` does: the
    // gateway's span records it, which is what the demo's Jaeger search
    // looks for.
    let client_trace = uuid::Uuid::new_v4().simple().to_string();
    let request_id = format!("flow-{}", uuid::Uuid::new_v4());
    let headers = [
        ("Idempotency-Key", uuid::Uuid::new_v4().to_string()),
        ("traceparent", format!("00-{client_trace}-b7ad6b7169203331-00")),
        ("X-Request-ID", request_id.clone()),
    ];
    let lines = json!({ "lines": [{ "sku": sku, "quantity": 2 }] });
    let (status, order) = customer.call_with(reqwest::Method::POST, "/api/orders", Some(lines), &headers).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = order["id"].as_str().expect("order id").to_owned();
    let confirmed = customer.poll(&format!("/api/orders/{order_id}"), SAGA, |o| o["status"] == "CONFIRMED").await;
    assert_eq!(confirmed["status"], "CONFIRMED", "{confirmed}");
    assert_eq!(stock(&customer, &sku).await, 1);
    let notes = customer.poll("/api/notifications", SAGA, |page| mentions(page, &order_id)).await;
    assert!(mentions(&notes, &order_id), "the customer is told about the order: {notes}");
    let summary =
        admin.poll("/api/analytics/summary", SAGA, |s| s.to_string().contains("CONFIRMED") && revenue(s) >= 5000).await;
    assert!(revenue(&summary) >= 5000, "analytics counts the order's revenue: {summary}");

    // More than the stock: REJECTED, stock untouched.
    let (status, too_many) = customer.place_order(json!([{ "sku": sku, "quantity": 5 }])).await;
    assert_eq!(status, StatusCode::CREATED, "{too_many}");
    let rejected_id = too_many["id"].as_str().unwrap().to_owned();
    let rejected = customer.poll(&format!("/api/orders/{rejected_id}"), SAGA, |o| o["status"] == "REJECTED").await;
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    assert_eq!(stock(&customer, &sku).await, 1);

    // Cancelling the confirmed order gives its stock back.
    let (status, cancelled) = customer.post(&format!("/api/orders/{order_id}/cancel"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    let product = customer.poll(&format!("/api/products/{sku}"), SAGA, |p| p["stock"] == 3).await;
    assert_eq!(product["stock"], 3, "the reservation is released: {product}");

    // The registration was counted too.
    let registrations = summary.get("registrations").and_then(Value::as_i64).unwrap_or_default();
    assert!(registrations >= 1, "{summary}");

    if check_trace {
        assert_one_trace_across_all_services(&client_trace, &request_id).await;
    }
}

/// The trace of the `POST /api/orders` the client sent with its own
/// unsampled trace context: a new trace, whose gateway root links the
/// client's and records the client's request id, holding spans of all six services on RabbitMQ, with no span
/// whose parent is missing.
async fn assert_one_trace_across_all_services(client_trace: &str, request_id: &str) {
    let otlp = testkit::otlp();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut best = Vec::new();
    while tokio::time::Instant::now() < deadline {
        let roots: Vec<RecordedSpan> = otlp
            .all_spans()
            .into_iter()
            .filter(|s| s.service_name.as_deref() == Some("gateway") && s.name == "POST /api/orders")
            .filter(|s| s.linked_traces.iter().any(|t| t == client_trace) && s.trace_id != client_trace)
            .filter(|s| s.attribute("request_id") == Some(request_id))
            .collect();
        for root in roots {
            let spans = otlp.spans(&root.trace_id);
            let on_rabbitmq = spans.iter().any(|s| s.attribute("messaging.system") == Some("rabbitmq"));
            if on_rabbitmq
                && services_of(&spans).len() == 6
                && orphans(&spans).is_empty()
                && inventory_both_ways(&spans)
            {
                return;
            }
            if services_of(&spans).len() >= services_of(&best).len() {
                best = spans;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "an order's trace should reach all six services with no orphans; best: services {:?}, orphans {:?}",
        services_of(&best),
        orphans(&best).iter().map(|s| (&s.service_name, &s.name)).collect::<Vec<_>>()
    );
}

/// Inventory took part twice: serving GetProducts over gRPC and consuming
/// `order.placed` from the broker, each span its own.
fn inventory_both_ways(spans: &[RecordedSpan]) -> bool {
    let inventory = || spans.iter().filter(|s| s.service_name.as_deref() == Some("inventory"));
    inventory().any(|s| s.attribute("rpc.method") == Some("GetProducts"))
        && inventory().any(|s| s.name.starts_with("process ") && s.attribute("messaging.system").is_some())
}

fn services_of(spans: &[RecordedSpan]) -> std::collections::BTreeSet<String> {
    spans.iter().filter_map(|s| s.service_name.clone()).collect()
}

fn orphans(spans: &[RecordedSpan]) -> Vec<&RecordedSpan> {
    spans
        .iter()
        .filter(|s| !s.parent_span_id.is_empty() && !spans.iter().any(|p| p.span_id == s.parent_span_id))
        .collect()
}

async fn stock(api: &Api, sku: &str) -> i64 {
    let (status, product) = api.get(&format!("/api/products/{sku}")).await;
    assert_eq!(status, StatusCode::OK, "{product}");
    product["stock"].as_i64().expect("stock")
}

/// A confirmation of this order among the customer's notifications.
fn mentions(page: &Value, order_id: &str) -> bool {
    items(page)
        .iter()
        .any(|n| n["event_type"] == "order.confirmed" && n["subject"].as_str().is_some_and(|s| s.contains(order_id)))
}

fn revenue(summary: &Value) -> i64 {
    summary.get("revenue").and_then(Value::as_i64).unwrap_or_default()
}

fn e2e_admin() -> (&'static str, &'static str) {
    (e2e::ADMIN_EMAIL, e2e::admin_password())
}

/// The Kafka-protocol broker is needed; with `CI` set its absence fails.
async fn kafka_available() -> bool {
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into());
    let reachable = tokio::net::TcpStream::connect(brokers.split(',').next().unwrap_or_default()).await.is_ok();
    assert!(reachable || std::env::var("CI").is_err(), "CI is set but no Kafka broker listens at {brokers}");
    if !reachable {
        eprintln!("skipping: no Kafka broker at {brokers} (run `just kafka`)");
    }
    reachable
}
