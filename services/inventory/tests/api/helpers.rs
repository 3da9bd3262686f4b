//! `spawn_app()`, replicas of it, and typed request helpers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use comms::messaging::settings::BrokerSettings;
use contracts::inventory::v1::inventory_service_client::InventoryServiceClient;
use inventory::config::Settings;
use inventory::startup::{MIGRATOR, build};
use reqwest::Method;
use serde_json::{Value, json};
use testkit::TestDatabase;
use testkit::grpc::Authorized;

pub use testkit::assert_problem;

/// How long any asynchronous effect may take before a test fails. Generous:
/// the machine may be busy with other builds.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub use testkit::{As, Identified, Served};

pub struct TestApp {
    /// Dropped first: the service stops before its database goes.
    pub api: Served,
    pub db: TestDatabase,
    pub settings: Settings,
    pub events_handled: Arc<AtomicU64>,
}

/// A second instance on the same database and broker namespace.
pub struct Replica {
    pub api: Served,
    pub events_handled: Arc<AtomicU64>,
}

pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::defaults(&inventory::SERVICE);
    settings.service = testkit::service_settings(&inventory::SERVICE, database_url);
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// An app whose settings `configure` adjusts first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    testkit::otlp();
    let db = TestDatabase::create(&MIGRATOR).await.expect("test database");
    let mut settings = test_settings(&db.url);
    configure(&mut settings);
    let app = build(&settings).await.expect("build app");
    let events_handled = app.state().events_handled.clone();
    TestApp { api: Served::start(app), db, settings, events_handled }
}

impl TestApp {
    /// The broker namespace this app (and its replicas) use.
    pub fn broker(&self) -> &BrokerSettings {
        self.settings.service.broker.as_ref().expect("inventory uses the broker")
    }

    /// A client as an admin (`WatchStock`).
    pub async fn grpc(&self) -> InventoryServiceClient<Authorized> {
        InventoryServiceClient::new(self.api.grpc_as_admin().await)
    }

    /// A client as the order service (`GetProducts`).
    pub async fn grpc_as_order(&self) -> InventoryServiceClient<Authorized> {
        InventoryServiceClient::new(self.api.grpc_as(&testkit::service_token("order", "inventory")).await)
    }

    /// Another instance of the service on this app's database and broker
    /// namespace, as a second replica would run in production.
    pub async fn spawn_replica(&self) -> Replica {
        let app = build(&self.settings).await.expect("build replica");
        let events_handled = app.state().events_handled.clone();
        Replica { api: Served::start(app), events_handled }
    }

    /// Creates a product through the API, as an admin.
    pub async fn create_product(&self, sku: &str, price: i64, stock: i64) -> Value {
        let body = json!({ "sku": sku, "name": format!("Product {sku}"), "price": price, "stock": stock });
        let response = self.api.request(Method::POST, "/products", &As::admin()).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 201, "creating {sku}");
        response.json().await.unwrap()
    }

    pub async fn restock(&self, sku: &str, quantity: i64) -> reqwest::Response {
        self.api
            .request(Method::POST, &format!("/products/{sku}/restock"), &As::admin())
            .json(&json!({ "quantity": quantity }))
            .send()
            .await
            .unwrap()
    }

    /// Inserts a product straight into the table (fast set-up).
    pub async fn insert_product(&self, sku: &str, stock: i64) {
        sqlx::query("INSERT INTO products (sku, name, price, stock) VALUES ($1, $2, 1000, $3)")
            .bind(sku)
            .bind(format!("Product {sku}"))
            .bind(stock)
            .execute(&self.db.pool)
            .await
            .expect("insert product");
    }

    pub async fn stock(&self, sku: &str) -> i64 {
        self.db.scalar("SELECT stock FROM products WHERE sku = $1", sku).await
    }

    pub fn handled(&self) -> u64 {
        self.events_handled.load(Ordering::SeqCst)
    }

    /// Waits until this app has handled `count` messages and relayed every
    /// event it wrote to the outbox: after this, nothing more is on its way.
    pub async fn settle(&self, count: u64) {
        eventually("the app to handle and relay everything", || async {
            let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM comms_outbox WHERE published_at IS NULL")
                .fetch_one(&self.db.pool)
                .await
                .unwrap();
            self.handled() >= count && pending == 0
        })
        .await;
    }

    /// How many events of `event_type` this service has emitted (through
    /// its outbox), published or not.
    pub async fn emitted(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM comms_outbox WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }
}

/// Polls `condition` until it holds, failing the test after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(DEADLINE, what, condition).await;
}

pub async fn eventually_within<F, Fut>(deadline: Duration, what: &str, condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    while !condition().await {
        assert!(tokio::time::Instant::now() < give_up, "gave up waiting for {what} after {deadline:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The field names of a problem's violations.
pub fn violated_fields(problem: &Value) -> Vec<String> {
    let mut fields: Vec<String> = problem["errors"]
        .as_array()
        .map_or_else(Vec::new, |errors| errors.iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect());
    fields.sort();
    fields
}
