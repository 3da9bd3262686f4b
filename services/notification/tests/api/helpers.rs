//! `spawn_app()`, a double of the user service, a probe on the test's
//! broker namespace, and polling helpers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use comms::auth::Principal;
use comms::messaging::{Destination, Envelope, Event, MessageBroker, OutgoingMessage};
use notification::config::{ChannelKind, Settings, SmtpSettings};
use notification::startup::{MIGRATOR, build};
use serde_json::json;
use testkit::TestDatabase;
use uuid::Uuid;

/// How long any asynchronous effect may take before a test gives up.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub use testkit::{As, Identified, Served};

pub struct TestApp {
    /// Dropped first: the service stops before its database goes.
    pub api: Served,
    pub db: TestDatabase,
    /// A broker client of the test's own, on the app's namespace.
    pub probe: Arc<dyn MessageBroker>,
    pub users: UserDouble,
}

pub fn test_settings(database_url: &str, users: SocketAddr) -> Settings {
    let mut settings = Settings::defaults(&notification::SERVICE);
    settings.service = testkit::service_settings(&notification::SERVICE, database_url);
    settings.service.database_max_connections = Some(5);
    settings.service.discovery.upstreams = format!("user={users}");
    // Short, so a failing delivery reaches the dead-letter queue quickly.
    settings.own.delivery_retry_delays_ms = vec![100, 200];
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app with settings changed by `configure` (a channel, an SMTP
/// server, operators).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    testkit::otlp();
    let users = UserDouble::start().await;
    let db = TestDatabase::create(&MIGRATOR).await.expect("test database");
    let mut settings = test_settings(&db.url, users.addr);
    configure(&mut settings);
    let broker = settings.service.broker.as_ref().expect("notification uses the broker");
    let (probe, _) = broker.connect("probe").await.expect("probe connects");
    let app = build(&settings).await.expect("build app");
    TestApp { api: Served::start(app), db, probe, users }
}

/// SMTP delivery to `sink`.
pub fn smtp_to(settings: &mut Settings, sink: SocketAddr) {
    settings.own.channel = ChannelKind::Smtp;
    settings.own.smtp = SmtpSettings {
        host: sink.ip().to_string(),
        port: sink.port(),
        from: "notifications@switchyard.test".into(),
        timeout_secs: 5,
    };
}

/// A notification as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Stored {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl TestApp {
    pub fn get(&self, path: &str, who: &As) -> reqwest::RequestBuilder {
        self.api.http.get(self.api.url(path)).identified_as(who)
    }

    /// Publishes `event` as `source` would, and returns its envelope.
    pub async fn publish<E: Event>(&self, source: &str, event: &E) -> Envelope {
        let envelope = Envelope::new(source, event, None);
        self.publish_envelope(&envelope).await;
        envelope
    }

    /// Publishes an envelope as it is (a redelivery).
    pub async fn publish_envelope(&self, envelope: &Envelope) {
        let message = OutgoingMessage::from_envelope(envelope, Destination::Event, HashMap::new());
        for outcome in self.probe.publish(std::slice::from_ref(&message)).await {
            outcome.expect("the broker takes the event");
        }
    }

    /// The notifications stored for an event, by recipient.
    pub async fn stored_for(&self, event_id: Uuid) -> Vec<Stored> {
        sqlx::query_as(
            "SELECT id, user_id, recipient, subject, body, status, attempts, last_error, sent_at
             FROM notifications WHERE event_id = $1 ORDER BY recipient",
        )
        .bind(event_id)
        .fetch_all(&self.db.pool)
        .await
        .expect("query notifications")
    }

    /// Waits until the event's notifications satisfy `done`, and returns them.
    pub async fn wait_for_stored(&self, event_id: Uuid, done: impl Fn(&[Stored]) -> bool) -> Vec<Stored> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let stored = self.stored_for(event_id).await;
            if done(&stored) {
                return stored;
            }
            assert!(tokio::time::Instant::now() < deadline, "gave up waiting; stored for {event_id}: {stored:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Delivery tasks written to the outbox.
    pub async fn queued_tasks(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM comms_outbox WHERE task_queue = 'notification.delivery'")
            .fetch_one(&self.db.pool)
            .await
            .expect("count tasks")
    }
}

/// A user as the double knows it.
#[derive(Clone, Debug)]
pub struct KnownUser {
    pub email: String,
    pub name: String,
}

/// One GET /users/{id} the double received, with the caller its token
/// verified as (`None`: no token, or one that did not verify).
#[derive(Clone, Debug)]
pub struct Lookup {
    pub id: String,
    pub caller: Option<Principal>,
}

#[derive(Default)]
struct DoubleState {
    users: HashMap<Uuid, KnownUser>,
    lookups: Vec<Lookup>,
    /// Answer this many of the next lookups with 503.
    failing: usize,
}

/// The user service, reduced to GET /users/{id}, authorising like the real
/// one: it verifies the caller's token with the test's service keys, and
/// lets only the notification service read an account.
pub struct UserDouble {
    pub addr: SocketAddr,
    state: Arc<Mutex<DoubleState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for UserDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl UserDouble {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(DoubleState::default()));
        let router = axum::Router::new().route("/users/{id}", get(get_user)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind user double");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { addr, state, task }
    }

    pub fn add(&self, name: &str, email: &str) -> Uuid {
        let id = Uuid::now_v7();
        let user = KnownUser { email: email.into(), name: name.into() };
        self.state.lock().unwrap().users.insert(id, user);
        id
    }

    /// The next `n` lookups fail with 503, as an overloaded service would.
    pub fn fail_next(&self, n: usize) {
        self.state.lock().unwrap().failing = n;
    }

    pub fn lookups(&self) -> Vec<Lookup> {
        self.state.lock().unwrap().lookups.clone()
    }

    pub fn lookups_of(&self, id: Uuid) -> Vec<Lookup> {
        self.lookups().into_iter().filter(|l| l.id == id.to_string()).collect()
    }
}

async fn get_user(
    State(state): State<Arc<Mutex<DoubleState>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<serde_json::Value>) {
    let authorization = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let caller = testkit::identity::service_verifier("user").verify(authorization).await.ok();
    let lookup = Lookup { id: id.clone(), caller };
    let mut state = state.lock().unwrap();
    state.lookups.push(lookup.clone());
    if state.failing > 0 {
        state.failing -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({ "status": 503 })));
    }
    match &lookup.caller {
        None => return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "status": 401 }))),
        Some(caller) if caller.service() != Some("notification") => {
            return (StatusCode::FORBIDDEN, axum::Json(json!({ "status": 403 })));
        }
        Some(_) => {}
    }
    let known = id.parse().ok().and_then(|id: Uuid| state.users.get(&id).cloned());
    match known {
        Some(user) => (
            StatusCode::OK,
            axum::Json(json!({
                "id": id, "email": user.email, "name": user.name,
                "roles": ["customer"], "created_at": chrono::Utc::now(),
            })),
        ),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({ "status": 404 }))),
    }
}

pub use testkit::assert_problem;
