//! `spawn_app()`: the order service on port 0 with a database of its own,
//! a broker namespace of its own, and its two upstreams played by doubles
//! behind fault proxies; plus typed request helpers and a probe on the bus.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use comms::discovery::DiscoverySettings;
use comms::messaging::settings::BrokerSettings;
use comms::messaging::{Destination, Envelope, Event, MessageBroker, OutgoingMessage, Subscription};
use contracts::order::v1::order_service_client::OrderServiceClient;
use order::config::Settings;
use order::startup::{MIGRATOR, build};
use serde_json::{Value, json};
use testkit::broker_conformance::Recorder;
use testkit::grpc::Authorized;
use testkit::{FaultProxy, TestDatabase};
use uuid::Uuid;

use crate::doubles::{Inventory, Users, serve_inventory, serve_users};

/// What the inventory double sells, in cents.
pub const PRICES: &[(&str, i64)] = &[("KEYBOARD", 4_999), ("MOUSE", 1_999), ("CABLE", 499)];

/// How long a test waits for an asynchronous effect before failing.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub use testkit::{As, Served};

pub struct TestApp {
    /// Dropped first: the service stops before its database goes.
    pub api: Served,
    pub db: TestDatabase,
    pub users: Users,
    pub user_proxy: FaultProxy,
    pub inventory_proxy: FaultProxy,
    pub broker: BrokerSettings,
}

/// The app with the default upstream deadline (2 s).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The app with its settings adjusted by `adjust` (after the test
/// defaults: database, broker namespace and upstream addresses are set).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    testkit::otlp();
    let users = Users::default();
    let user_proxy = FaultProxy::start(serve_users(users.clone()).await).await.expect("user proxy");
    let inventory_proxy =
        FaultProxy::start(serve_inventory(Inventory::with_prices(PRICES)).await).await.expect("inventory proxy");
    let db = TestDatabase::create(&MIGRATOR).await.expect("test database");
    let mut settings = Settings::defaults(&order::SERVICE);
    settings.service = testkit::service_settings(&order::SERVICE, &db.url);
    // Enough for a dozen placements waiting on one idempotency key.
    settings.service.database_max_connections = Some(20);
    settings.service.discovery = DiscoverySettings {
        upstreams: format!("user-grpc={};inventory-grpc={}", user_proxy.addr(), inventory_proxy.addr()),
        ..DiscoverySettings::default()
    };
    let broker = settings.service.broker.clone().expect("order uses the broker");
    adjust(&mut settings);
    let app = build(&settings).await.unwrap_or_else(|e| panic!("build app: {e:#}"));
    TestApp { api: Served::start(app), db, users, user_proxy, inventory_proxy, broker }
}

/// A body for POST /orders.
pub fn lines(lines: &[(&str, i64)]) -> Value {
    json!({ "lines": lines.iter().map(|(sku, quantity)| json!({ "sku": sku, "quantity": quantity })).collect::<Vec<_>>() })
}

impl TestApp {
    /// A customer the user double knows.
    pub fn customer(&self) -> As {
        let id = Uuid::now_v7();
        self.users.add(id);
        As::customer(id)
    }

    pub async fn place(&self, who: &As, key: &str, body: &Value) -> reqwest::Response {
        self.api
            .request(reqwest::Method::POST, "/orders", who)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .expect("place order")
    }

    /// Places an order that must succeed; returns it.
    pub async fn place_ok(&self, who: &As, order: &[(&str, i64)]) -> Value {
        let response = self.place(who, &Uuid::new_v4().to_string(), &lines(order)).await;
        assert_eq!(response.status(), 201, "placing {order:?}");
        response.json().await.unwrap()
    }

    pub async fn get_order(&self, who: &As, id: &str) -> reqwest::Response {
        self.api.request(reqwest::Method::GET, &format!("/orders/{id}"), who).send().await.expect("get order")
    }

    pub async fn status_of(&self, id: &str) -> String {
        self.db.scalar("SELECT status FROM orders WHERE id = $1::uuid", id).await
    }

    pub async fn cancel(&self, who: &As, id: &str) -> reqwest::Response {
        self.api.request(reqwest::Method::POST, &format!("/orders/{id}/cancel"), who).send().await.expect("cancel")
    }

    /// Rows in (orders, order_lines, comms_outbox, idempotency_keys).
    pub async fn rows(&self) -> (i64, i64, i64, i64) {
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines),
                    (SELECT count(*) FROM comms_outbox), (SELECT count(*) FROM idempotency_keys)",
        )
        .fetch_one(&self.db.pool)
        .await
        .expect("count rows")
    }

    /// How many outbox rows of `event_type` concern `order_id`.
    pub async fn outbox_count(&self, event_type: &str, order_id: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM comms_outbox WHERE event_type = $1 AND envelope->>'subject' = $2")
            .bind(event_type)
            .bind(order_id)
            .fetch_one(&self.db.pool)
            .await
            .expect("count outbox")
    }

    /// A client as an admin (`GetOrder` reads any order).
    pub async fn grpc(&self) -> OrderServiceClient<Authorized> {
        OrderServiceClient::new(self.api.grpc_as_admin().await)
    }

    /// A client of the test's broker namespace that records `types`,
    /// subscribed before it returns (subscribe before acting: an event
    /// with no queue bound is not delivered).
    pub async fn bus(&self, types: &[&str]) -> Bus {
        let (broker, _) = self.broker.connect("probe").await.expect("probe broker");
        let seen = Recorder::new();
        broker.subscribe(Subscription::events("probe", types), Arc::new(seen.clone())).await.expect("probe subscribe");
        Bus { broker, seen }
    }
}

/// The test's view of the broker: what it published, and a way to play
/// the inventory service.
pub struct Bus {
    broker: Arc<dyn MessageBroker>,
    seen: Recorder,
}

impl Bus {
    /// Publishes as another service would (with confirms).
    pub async fn publish(&self, envelope: &Envelope) {
        let message = OutgoingMessage::from_envelope(envelope, Destination::Event, HashMap::new());
        for outcome in self.broker.publish(&[message]).await {
            outcome.expect("published");
        }
    }

    /// The events of `E`'s type about `order_id` received so far.
    pub fn received<E: Event>(&self, order_id: &str) -> Vec<Envelope> {
        self.seen
            .deliveries()
            .iter()
            .filter_map(|d| Envelope::from_bytes(&d.body).ok())
            .filter(|e| e.event_type == E::TYPE && e.subject.as_deref() == Some(order_id))
            .collect()
    }

    /// Everything received so far, as delivered.
    pub fn deliveries(&self) -> Vec<comms::messaging::Delivery> {
        self.seen.deliveries()
    }

    /// Waits for the first `E` about `order_id`.
    pub async fn wait_for<E: Event>(&self, order_id: &str) -> (Envelope, E) {
        eventually(&format!("{} for {order_id}", E::TYPE), || async { !self.received::<E>(order_id).is_empty() }).await;
        let envelope = self.received::<E>(order_id).remove(0);
        let payload = envelope.decode::<E>().expect("payload decodes");
        (envelope, payload)
    }
}

/// Polls `check` until it holds, failing the test after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub use testkit::assert_problem;

/// The field names of a problem's violations.
pub fn violated_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map_or_else(Vec::new, |errors| errors.iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect())
}
