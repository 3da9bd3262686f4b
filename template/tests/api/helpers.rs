//! `spawn_app()` and typed request helpers.

use comms::messaging::settings::BrokerSettings; // new-service: publishes|consumes
use serde_json::{Value, json};
use template::config::Settings;
use template::startup::{MIGRATOR, build};
use testkit::TestDatabase;
use uuid::Uuid;

pub use testkit::{As, Served, assert_problem};

pub struct TestApp {
    /// Dropped first: the service stops before its database goes.
    pub api: Served,
    pub db: TestDatabase,
    pub broker: BrokerSettings, // new-service: publishes|consumes
}

pub async fn spawn_app() -> TestApp {
    testkit::otlp();
    let db = TestDatabase::create(&MIGRATOR).await.expect("test database");
    let mut settings = Settings::defaults(&template::SERVICE);
    settings.service = testkit::service_settings(&template::SERVICE, &db.url);
    settings.service.database_max_connections = Some(5);
    let broker = settings.service.broker.clone().expect("a broker namespace"); // new-service: publishes|consumes
    let api = Served::start(build(&settings).await.expect("build app"));
    TestApp {
        api,
        db,
        broker, // new-service: publishes|consumes
    }
}

impl TestApp {
    pub async fn create_item(&self, who: &As, name: &str) -> reqwest::Response {
        let request = self.api.request(reqwest::Method::POST, "/template/items", who);
        request.json(&json!({ "name": name })).send().await.expect("create an item")
    }

    /// Creates an item for `who` and returns it.
    pub async fn new_item(&self, who: &As, name: &str) -> Value {
        let response = self.create_item(who, name).await;
        assert_eq!(response.status(), 201, "creating {name:?}");
        response.json().await.unwrap()
    }

    pub async fn get_item(&self, who: &As, id: &str) -> reqwest::Response {
        let path = format!("/template/items/{id}");
        self.api.request(reqwest::Method::GET, &path, who).send().await.expect("get an item")
    }
}

/// A signed-in customer of the test's own.
pub fn customer() -> As {
    As::customer(Uuid::now_v7())
}

/// The field names of a problem's violations.
pub fn violated_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map_or_else(Vec::new, |errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
}
