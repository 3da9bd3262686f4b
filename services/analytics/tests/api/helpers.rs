//! `spawn_app()`, a publisher standing in for the other services, typed
//! request helpers and event builders.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use analytics::config::Settings;
use analytics::startup::{MIGRATOR, build};
use comms::messaging::settings::BrokerSettings;
use comms::messaging::{
    Delivery, Destination, Envelope, Event, Handler, HandlerError, MessageBroker, OutgoingMessage, Subscription,
};
use contracts::analytics::v1::analytics_service_client::AnalyticsServiceClient;
use events::{OrderCancelled, OrderConfirmed, OrderExpired, OrderLine, OrderPlaced, OrderRejected, UserRegistered};
use futures::future::BoxFuture;
use serde_json::Value;
use testkit::grpc::Authorized;
use testkit::{Served, TestDatabase};
use uuid::Uuid;

/// How long an asynchronous effect may take before a test gives up.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct TestApp {
    pub instance: Instance,
    pub db: TestDatabase,
    /// Publishes as the user, order and inventory services would.
    pub broker: Arc<dyn MessageBroker>,
    pub http: reqwest::Client,
}

/// One running analytics instance (in this test process).
pub type Instance = Served;

pub fn test_settings(database_url: &str, broker: BrokerSettings) -> Settings {
    let mut settings = Settings::defaults(&analytics::SERVICE);
    settings.service = testkit::service_settings(&analytics::SERVICE, database_url);
    settings.service.database_max_connections = Some(5);
    settings.service.broker = Some(broker);
    settings
}

pub async fn spawn_app() -> TestApp {
    testkit::otlp();
    let db = TestDatabase::create(&MIGRATOR).await.expect("test database");
    let broker_settings = testkit::broker_settings();
    let instance = spawn_instance(&db.url, broker_settings.clone()).await;
    let (broker, _) = broker_settings.connect("probe").await.expect("probe connects to the broker");
    TestApp { instance, db, broker, http: reqwest::Client::new() }
}

/// Another analytics instance on `database_url`, consuming from `broker`.
pub async fn spawn_instance(database_url: &str, broker: BrokerSettings) -> Instance {
    Served::start(build(&test_settings(database_url, broker)).await.expect("build app"))
}

/// The identity the gateway would vouch for.
#[derive(Clone, Copy, Debug)]
pub enum As {
    Nobody,
    Customer,
    Admin,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.instance.base)
    }

    pub fn get(&self, path: &str, who: As) -> reqwest::RequestBuilder {
        let request = self.http.get(self.url(path));
        let roles: &[&str] = match who {
            As::Nobody => return request,
            As::Customer => &["customer"],
            As::Admin => &["customer", "admin"],
        };
        request.bearer_auth(testkit::user_token(Uuid::now_v7(), roles))
    }

    pub async fn summary(&self) -> Value {
        let response = self.get("/analytics/summary", As::Admin).send().await.expect("summary");
        assert_eq!(response.status(), 200, "summary");
        response.json().await.unwrap()
    }

    /// Polls the summary until `done` holds, and returns it; fails the test
    /// with the last summary seen if it never does.
    pub async fn wait_for_summary(&self, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let summary = self.summary().await;
            if done(&summary) {
                return summary;
            }
            assert!(tokio::time::Instant::now() < deadline, "the summary never got there; last: {summary:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `count` distinct events have been applied.
    pub async fn wait_for_events(&self, count: i64) -> Value {
        self.wait_for_summary(|s| s["events_applied"] == count).await
    }

    pub async fn series(&self, metric: &str, minutes: u16) -> Value {
        let path = format!("/analytics/series?metric={metric}&minutes={minutes}");
        let response = self.get(&path, As::Admin).send().await.expect("series");
        assert_eq!(response.status(), 200, "series");
        response.json().await.unwrap()
    }

    /// A client as an admin (the metrics are for admins).
    pub async fn grpc(&self) -> AnalyticsServiceClient<Authorized> {
        admin_client(self.instance.grpc_addr()).await
    }

    /// Publishes an envelope as it is (so a test can repeat one, or date
    /// it in the past).
    pub async fn publish(&self, envelope: &Envelope) {
        self.publish_with(envelope, HashMap::new()).await;
    }

    pub async fn publish_with(&self, envelope: &Envelope, headers: HashMap<String, String>) {
        let message = OutgoingMessage::from_envelope(envelope, Destination::Event, headers);
        for outcome in self.broker.publish(std::slice::from_ref(&message)).await {
            outcome.expect("the broker takes the event");
        }
    }

    /// Wraps `event` as its producer would, publishes it, and returns it.
    pub async fn emit<E: Event>(&self, event: &E) -> Envelope {
        let envelope = envelope(event);
        self.publish(&envelope).await;
        envelope
    }
}

/// An envelope from the service that owns the event's type.
pub fn envelope<E: Event>(event: &E) -> Envelope {
    let source = E::TYPE.split('.').next().unwrap_or("test");
    Envelope::new(source, event, None)
}

/// One order and its customer, with the events it can go through.
#[derive(Clone, Debug)]
pub struct Order {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub lines: Vec<OrderLine>,
}

impl Order {
    /// An order of `lines` as (sku, quantity, unit price).
    pub fn of(lines: &[(&str, i64, i64)]) -> Self {
        Self {
            id: Uuid::now_v7(),
            customer_id: Uuid::now_v7(),
            lines: lines
                .iter()
                .map(|(sku, quantity, unit_price)| OrderLine {
                    sku: (*sku).to_owned(),
                    quantity: *quantity,
                    unit_price: *unit_price,
                })
                .collect(),
        }
    }

    pub fn total(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity * l.unit_price).sum()
    }

    pub fn placed(&self) -> OrderPlaced {
        OrderPlaced { order_id: self.id, customer_id: self.customer_id, lines: self.lines.clone(), total: self.total() }
    }

    pub fn confirmed(&self) -> OrderConfirmed {
        OrderConfirmed {
            order_id: self.id,
            customer_id: self.customer_id,
            lines: self.lines.clone(),
            total: self.total(),
        }
    }

    pub fn rejected(&self) -> OrderRejected {
        OrderRejected { order_id: self.id, customer_id: self.customer_id, reason: "out of stock".into() }
    }

    pub fn expired(&self) -> OrderExpired {
        OrderExpired {
            order_id: self.id,
            customer_id: self.customer_id,
            reason: "inventory did not answer within 3600 s".into(),
            lines: self.lines.clone(),
            total: self.total(),
        }
    }

    pub fn cancelled(&self, previous_status: &str) -> OrderCancelled {
        OrderCancelled {
            order_id: self.id,
            customer_id: self.customer_id,
            previous_status: previous_status.into(),
            lines: self.lines.clone(),
            total: self.total(),
        }
    }
}

pub fn registered() -> UserRegistered {
    let user_id = Uuid::now_v7();
    UserRegistered { user_id, email: format!("{user_id}@example.com"), name: "Ada".into() }
}

/// The counts by status, in the summary's shape.
pub fn statuses(pending: i64, confirmed: i64, rejected: i64, cancelled: i64, expired: i64) -> Value {
    serde_json::json!({
        "PENDING": pending, "CONFIRMED": confirmed, "REJECTED": rejected, "CANCELLED": cancelled, "EXPIRED": expired
    })
}

pub use testkit::assert_problem;

/// The field names of a problem's violations.
pub fn violated_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map_or_else(Vec::new, |errors| errors.iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect())
}

/// Records what the analytics consumer dead-letters.
#[derive(Default)]
pub struct DeadLetters {
    seen: std::sync::Mutex<Vec<Delivery>>,
}

impl Handler for DeadLetters {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        self.seen.lock().expect("dead letters lock").push(delivery.clone());
        Box::pin(std::future::ready(Ok(())))
    }
}

impl TestApp {
    /// Starts recording the dead letters of the analytics subscription.
    pub async fn dead_letters(&self) -> Arc<DeadLetters> {
        let recorder = Arc::new(DeadLetters::default());
        let subscription = Subscription::dead_letters(analytics::SERVICE.name);
        self.broker.subscribe(subscription, recorder.clone()).await.expect("subscribe to dead letters");
        recorder
    }
}

impl DeadLetters {
    /// Waits for the first dead letter.
    pub async fn first(&self) -> Delivery {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(delivery) = self.seen.lock().expect("dead letters lock").first() {
                return delivery.clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "nothing was dead-lettered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An analytics client at `addr` whose calls carry an admin's token.
pub async fn admin_client(addr: std::net::SocketAddr) -> AnalyticsServiceClient<Authorized> {
    let admin = testkit::user_token(Uuid::now_v7(), &["customer", "admin"]);
    AnalyticsServiceClient::new(testkit::grpc::authorized(addr, &admin).await)
}
