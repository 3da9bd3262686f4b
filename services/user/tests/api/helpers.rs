//! `spawn_app()` and typed request helpers.

use contracts::user::v1::user_service_client::UserServiceClient;
use reqwest::Method;
use serde_json::{Value, json};
use testkit::TestDatabase;
use testkit::grpc::Authorized;
use user::config::Settings;
use user::startup::{MIGRATOR, build};
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";

pub use testkit::{As, Served};

pub struct TestApp {
    /// Dropped first: the service stops before its database goes.
    pub api: Served,
    /// The running service's state, for what only it can count.
    pub api_state: std::sync::Arc<user::state::AppState>,
    pub db: TestDatabase,
    pub broker: comms::messaging::settings::BrokerSettings,
}

/// The key this test binary's user services sign with, made at run time.
pub fn signing_key() -> &'static str {
    testkit::keys::shared_ed25519_pem()
}

pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::defaults(&user::SERVICE);
    settings.service = testkit::service_settings(&user::SERVICE, database_url);
    settings.service.database_max_connections = Some(5);
    settings.own.jwt.private_key = Some(signing_key().to_owned());
    settings
}

/// The environment that starts the service binary against `database_url`.
pub fn process_env(database_url: &str) -> Vec<(&'static str, String)> {
    let mut env = testkit::broker_env(&testkit::broker_settings());
    env.extend(testkit::auth_env(&user::SERVICE));
    env.extend([
        ("USER_HOST", "127.0.0.1".into()),
        ("USER_HTTP_PORT", "0".into()),
        ("USER_GRPC_PORT", "0".into()),
        ("USER_METRICS_PORT", "0".into()),
        ("USER_DATABASE_URL", database_url.into()),
        ("USER_JWT__PRIVATE_KEY", signing_key().to_owned()),
        ("USER_SHUTDOWN_GRACE_SECS", "5".into()),
        ("RUST_LOG", "info".into()),
    ]);
    env
}

pub async fn spawn_app() -> TestApp {
    let (db, settings) = fresh_settings().await;
    spawn_app_on(db, settings).await
}

/// A fresh, migrated database and the test settings for it, for a test
/// that changes them before `spawn_app_on` or `build`.
pub async fn fresh_settings() -> (TestDatabase, Settings) {
    testkit::otlp();
    let db = TestDatabase::create(&MIGRATOR).await.expect("test database");
    let settings = test_settings(&db.url);
    (db, settings)
}

/// Serves `settings` on a database the test has prepared.
pub async fn spawn_app_on(db: TestDatabase, settings: Settings) -> TestApp {
    let broker = settings.service.broker.clone().expect("user uses the broker");
    let app = build(&settings).await.expect("build app");
    let api_state = app.state().clone();
    TestApp { api: Served::start(app), api_state, db, broker }
}

impl TestApp {
    pub async fn register(&self, email: &str, name: &str, password: &str) -> reqwest::Response {
        self.api
            .via_gateway(Method::POST, "/auth/register")
            .json(&json!({ "email": email, "name": name, "password": password }))
            .send()
            .await
            .expect("register")
    }

    /// Registers a valid user and returns its id.
    pub async fn new_user(&self, email: &str) -> Uuid {
        let response = self.register(email, "Test User", PASSWORD).await;
        assert_eq!(response.status(), 201, "registering {email}");
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.api
            .via_gateway(Method::POST, "/auth/login")
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login")
    }

    /// A client whose calls carry `token`.
    pub async fn grpc_as(&self, token: &str) -> UserServiceClient<Authorized> {
        UserServiceClient::new(self.api.grpc_as(token).await)
    }

    /// A client as an admin: every RPC but `GetUser` (the order service's).
    pub async fn grpc(&self) -> UserServiceClient<Authorized> {
        self.grpc_as(&As::admin().token()).await
    }

    /// A client as the order service: `GetUser`.
    pub async fn grpc_as_order(&self) -> UserServiceClient<Authorized> {
        self.grpc_as(&testkit::service_token("order", "user")).await
    }

    /// Inserts `count` users straight into the table (fast bulk set-up).
    /// `padding` characters are added to each name and email, to make rows
    /// as large as a test needs.
    pub async fn insert_users_by_sql(&self, count: i64, padding: i32) {
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash)
             SELECT gen_random_uuid(), 'bulk' || n || repeat('e', $2) || '@example.com',
                    'Bulk ' || n || repeat('n', $2), 'not-a-real-hash'
             FROM generate_series(1, $1) AS n",
        )
        .bind(count)
        .bind(padding)
        .execute(&self.db.pool)
        .await
        .expect("bulk insert");
    }
}

pub use testkit::assert_problem;

/// The field names of a problem's violations.
pub fn violated_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map_or_else(Vec::new, |errors| errors.iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect())
}
