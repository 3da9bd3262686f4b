//! `spawn_gateway()`, the echo upstream, and token forging.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use comms::Shutdown;
use comms::discovery::StaticRegistry;
use gateway::config::{GATEWAY, Settings};
use gateway::routes::RouteTable;
use gateway::startup::build_with;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const TABLE: &str = r#"{ "routes": [
  { "name": "echo", "path": "/api/echo/{*rest}", "methods": ["GET", "POST"], "service": "echo", "rewrite": "/echo/{rest}", "auth": "public" },
  { "name": "private", "path": "/api/private/{*rest}", "methods": ["GET"], "service": "echo", "rewrite": "/inside/{rest}", "auth": "required" },
  { "name": "admin", "path": "/api/admin", "methods": ["GET"], "service": "echo", "rewrite": "/admin", "auth": "required", "roles": ["admin"] },
  { "name": "things", "path": "/api/things", "methods": ["POST"], "service": "echo", "rewrite": "/things", "auth": "public" },
  { "name": "things-read", "path": "/api/things", "methods": ["GET"], "service": "echo", "rewrite": "/things-read", "auth": "public" },
  { "name": "slow", "path": "/api/slow", "methods": ["GET"], "service": "echo", "rewrite": "/slow", "auth": "public", "timeout_ms": 300 },
  { "name": "down", "path": "/api/down", "methods": ["GET"], "service": "nowhere", "rewrite": "/", "auth": "public" },
  { "name": "broken", "path": "/api/broken", "methods": ["GET"], "service": "broken", "rewrite": "/fail", "auth": "public" },
  { "name": "limited", "path": "/api/limited", "methods": ["GET"], "service": "echo", "rewrite": "/limited", "auth": "public",
    "limit": { "requests": 3, "per_secs": 3600 } }
] }"#;

/// The echo upstream's own OpenAPI document, as a service would serve it.
pub const ECHO_OPENAPI: &str = r#"{ "openapi": "3.1.0", "info": { "title": "echo", "version": "1" },
  "paths": {
    "/echo/hello": { "get": { "responses": { "200": { "description": "ok" } } },
                     "post": { "responses": { "200": { "description": "ok" } } } },
    "/inside/{id}": { "get": { "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                               "responses": { "200": { "description": "ok" } } } },
    "/admin": { "get": { "responses": { "200": { "description": "ok" } } } },
    "/things": { "post": { "responses": { "201": { "description": "created" } } },
                 "delete": { "responses": { "204": { "description": "gone" } } } },
    "/things-read": { "get": { "responses": { "200": { "description": "ok" } } } },
    "/slow": { "get": { "responses": { "200": { "description": "ok" } } } },
    "/not-routed": { "get": { "responses": { "200": { "description": "ok" } } } }
  },
  "components": { "schemas": { "Thing": { "type": "object" } } } }"#;

/// The upstream: answers every request with what it received, as JSON
/// (with `Location: X` if the query is `location=X`); `/slow` waits two
/// seconds; `/fail` answers 500. It also serves the JWK
/// Set, counting how often it is fetched.
#[derive(Clone, Default)]
pub struct Echo {
    pub hits: Arc<AtomicUsize>,
    pub jwks_fetches: Arc<AtomicUsize>,
    /// Bytes of `/big` handed to the server so far.
    pub sent: Arc<AtomicUsize>,
    /// Bytes of `/upload` read so far, and whether they matched the pattern.
    pub received: Arc<AtomicUsize>,
    pub upload_intact: Arc<std::sync::atomic::AtomicBool>,
    /// `/fail` answers 500 while this is false (the default), 200 after.
    pub healed: Arc<std::sync::atomic::AtomicBool>,
    /// Whether every byte of the last upload, however long, matched the pattern.
    pub upload_matched: Arc<std::sync::atomic::AtomicBool>,
}

/// The test pattern for large bodies: byte `i` is `i % 251`.
pub fn pattern_byte(i: usize) -> u8 {
    (i % 251) as u8
}

pub const BIG: usize = 50 * 1024 * 1024;

async fn echo(State(echo): State<Echo>, request: Request) -> axum::response::Response {
    echo.hits.fetch_add(1, Ordering::SeqCst);
    let path = request.uri().path().to_owned();
    if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    if path == "/openapi.json" {
        return axum::Json(serde_json::from_str::<Value>(ECHO_OPENAPI).unwrap()).into_response();
    }
    if path == "/echo/big" {
        return big(echo);
    }
    if path == "/echo/upload" {
        return upload(echo, request).await;
    }
    if path == "/fail" && !echo.healed.load(Ordering::SeqCst) {
        return (http::StatusCode::INTERNAL_SERVER_ERROR, "upstream bug").into_response();
    }
    let headers: serde_json::Map<String, Value> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.to_str().unwrap_or("").to_owned())))
        .collect();
    let mut response = axum::Json(json!({
        "method": request.method().as_str(),
        "path": path,
        "query": request.uri().query(),
        "headers": headers,
    }))
    .into_response();
    // `?location=/x` answers with `Location: /x`, as a create would.
    if let Some(location) = request.uri().query().and_then(|q| q.strip_prefix("location=")) {
        response.headers_mut().insert(http::header::LOCATION, location.parse().unwrap());
    }
    response
}

async fn jwks(State(echo): State<Echo>) -> axum::Json<JwkSet> {
    echo.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(JwkSet { keys: vec![dev_jwk()] })
}

/// The key the double's key set publishes and test tokens are signed
/// with, made at run time.
pub fn dev_key() -> EncodingKey {
    EncodingKey::from_ed_pem(testkit::keys::shared_ed25519_pem().as_bytes()).unwrap()
}

pub fn dev_jwk() -> Jwk {
    let mut jwk = Jwk::from_encoding_key(&dev_key(), Algorithm::EdDSA).unwrap();
    jwk.common.key_id = Some(jwk.thumbprint(ThumbprintHash::SHA256).unwrap());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk
}

/// The user id a test's user label stands for: the same label, the same id.
pub fn user_id(label: &str) -> uuid::Uuid {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    label.hash(&mut hasher);
    let high = hasher.finish();
    "salt".hash(&mut hasher);
    uuid::Uuid::from_u64_pair(high, hasher.finish())
}

/// A token as the user service issues it for the user `label` stands for
/// ([`user_id`]), with `tweak` applied to the claims.
pub fn token(label: &str, roles: &[&str], tweak: impl FnOnce(&mut Value)) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = json!({ "sub": user_id(label).to_string(), "roles": roles, "iss": "switchyard-user", "aud": "switchyard", "iat": now, "exp": now + 600 });
    tweak(&mut claims);
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = dev_jwk().common.key_id;
    jsonwebtoken::encode(&header, &claims, &dev_key()).unwrap()
}

pub struct TestGateway {
    pub base: String,
    pub echo: Echo,
    pub registry: Arc<StaticRegistry>,
    pub http: reqwest::Client,
    /// The internal listener, the only one serving `/metrics`.
    pub metrics_addr: std::net::SocketAddr,
    shutdown: Shutdown,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub async fn start_echo() -> (String, Echo) {
    let echo = Echo::default();
    let router =
        Router::new().route("/.well-known/jwks.json", get(jwks)).fallback(any(echo_handler)).with_state(echo.clone());
    // Small kernel buffers: the far end holds little, so what is in flight
    // is what the gateway holds.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(128).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, echo)
}

async fn echo_handler(state: State<Echo>, request: Request) -> axum::response::Response {
    echo(state, request).await
}

/// Every limit at its default, on port 0.
pub fn safe_settings() -> Settings {
    Settings {
        host: "127.0.0.1".into(),
        port: 0,
        metrics_port: 0,
        routes_file: String::new(),
        shutdown_grace_secs: 5,
        auth: testkit::identity::auth_settings(&GATEWAY),
        ..Settings::default()
    }
}

/// The same rate and burst for each address and each user.
pub fn settings(rate_per_second: u32, burst: u32) -> Settings {
    Settings {
        rate_per_second,
        rate_burst: burst,
        address_rate_per_second: rate_per_second,
        address_rate_burst: burst,
        ..safe_settings()
    }
}

/// The environment that starts the gateway binary with the shipped route
/// table and no upstreams.
pub fn process_env() -> Vec<(&'static str, String)> {
    let routes = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/gateway/routes.json");
    let mut env = testkit::auth_env(&GATEWAY);
    env.extend([
        ("GATEWAY_HOST", "127.0.0.1".into()),
        ("GATEWAY_PORT", "0".into()),
        ("GATEWAY_METRICS_PORT", "0".into()),
        ("GATEWAY_ROUTES_FILE", routes.into()),
        ("GATEWAY_UPSTREAMS", String::new()),
        ("RUST_LOG", "info".into()),
    ]);
    env
}

pub async fn spawn_gateway_with(settings: Settings) -> TestGateway {
    spawn_gateway_on(settings, RouteTable::parse(TABLE).unwrap()).await
}

/// With `table`; the echo upstream serves its `echo`, `broken` and `user`
/// services.
pub async fn spawn_gateway_on(mut settings: Settings, table: RouteTable) -> TestGateway {
    testkit::otlp();
    let (addr, echo) = start_echo().await;
    // User-token keys from the echo upstream, which counts its key-set
    // fetches.
    settings.auth.user_keys_urls = Some(format!("http://{addr}/.well-known/jwks.json"));
    let registry = Arc::new(StaticRegistry::new());
    registry.set("echo", &[&addr]);
    registry.set("broken", &[&addr]);
    registry.set("user", &[&addr]);
    let app = build_with(&settings, table, registry.clone()).await.unwrap();
    let base = format!("http://{}", app.http_addr());
    let metrics_addr = app.metrics_addr();
    let shutdown = Shutdown::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestGateway { base, echo, registry, http: reqwest::Client::new(), metrics_addr, shutdown }
}

pub async fn spawn_gateway() -> TestGateway {
    spawn_gateway_with(settings(10_000, 10_000)).await
}

impl TestGateway {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs `path` and returns the status and the echoed request (if any).
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self.http.get(self.url(path));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

pub use testkit::assert_problem;

/// 50 MB, produced only as fast as the connection takes it.
fn big(echo: Echo) -> axum::response::Response {
    const CHUNK: usize = 64 * 1024;
    let stream = futures::stream::iter((0..BIG / CHUNK).map(move |n| {
        let chunk: Vec<u8> = (n * CHUNK..(n + 1) * CHUNK).map(pattern_byte).collect();
        echo.sent.fetch_add(CHUNK, Ordering::SeqCst);
        Ok::<_, std::io::Error>(bytes::Bytes::from(chunk))
    }));
    let mut response = axum::body::Body::from_stream(stream).into_response();
    response.headers_mut().insert(http::header::CONTENT_LENGTH, BIG.into());
    response
}

/// Reads an upload slowly, checking every byte against the pattern.
async fn upload(echo: Echo, request: Request) -> axum::response::Response {
    use http_body_util::BodyExt;
    let mut body = request.into_body();
    let mut offset = 0usize;
    let mut intact = true;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(data) = frame.data_ref() {
            intact &= data.iter().enumerate().all(|(i, b)| *b == pattern_byte(offset + i));
            offset += data.len();
            echo.received.store(offset, Ordering::SeqCst);
            // A slow consumer: about 25 MB/s.
            tokio::time::sleep(Duration::from_micros(data.len() as u64 / 25)).await;
        }
    }
    echo.upload_matched.store(intact, Ordering::SeqCst);
    echo.upload_intact.store(intact && offset == BIG, Ordering::SeqCst);
    axum::Json(json!({ "received": offset })).into_response()
}
