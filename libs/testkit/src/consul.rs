//! A Consul HTTP API double, faithful to the parts the system uses:
//! agent service registration, lookup and deregistration, `/v1/health/service`
//! with blocking queries, and health checks that it really runs.
//!
//! Faithful where it matters for clients:
//! - new checks start `critical` (Consul's default) and run at once, then
//!   every `Interval`; only `passing` instances are listed with `?passing`;
//! - an instance `critical` for `DeregisterCriticalServiceAfter` is removed;
//! - a blocking query (`index` > 0) waits until the index moves past it or
//!   `wait` elapses, and every answer carries `X-Consul-Index`;
//! - registering the same ID again replaces the registration.
//!
//! And unfaithful on demand, to test clients against Consul's known
//! anomalies: the index can be made to go backwards ([`ConsulDouble::reset_index`])
//! or to be reported as zero ([`ConsulDouble::report_zero_index`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Registration {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    #[serde(default)]
    address: String,
    port: u16,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    meta: Option<BTreeMap<String, String>>,
    #[serde(default)]
    check: Option<Check>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Check {
    #[serde(rename = "HTTP")]
    http: Option<String>,
    #[serde(rename = "GRPC")]
    grpc: Option<String>,
    interval: Option<String>,
    timeout: Option<String>,
    deregister_critical_service_after: Option<String>,
}

struct Entry {
    registration: Registration,
    passing: bool,
    checker: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Inner {
    index: u64,
    entries: BTreeMap<String, Entry>,
    /// For each deregistration: the instance id, and whether its service
    /// still accepted connections at that moment.
    deregistrations: Vec<(String, bool)>,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    changed: watch::Sender<u64>,
    health_queries: Arc<AtomicUsize>,
    zero_index: Arc<AtomicBool>,
    /// How long each deregistration takes to answer, in milliseconds.
    deregistration_delay_ms: Arc<AtomicU64>,
}

pub struct ConsulDouble {
    addr: SocketAddr,
    shared: Shared,
    server: JoinHandle<()>,
}

impl Drop for ConsulDouble {
    fn drop(&mut self) {
        self.server.abort();
        for entry in self.shared.inner.lock().expect("double lock").entries.values() {
            if let Some(checker) = &entry.checker {
                checker.abort();
            }
        }
    }
}

impl ConsulDouble {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("an address")).await.expect("bind consul double")
    }

    /// On a given address (the `consul-double` binary: `just dev`'s
    /// discovery on request).
    pub async fn start_on(address: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let addr = listener.local_addr()?;
        let shared = Shared {
            inner: Arc::new(Mutex::new(Inner { index: 1, ..Inner::default() })),
            changed: watch::channel(1).0,
            health_queries: Arc::default(),
            zero_index: Arc::default(),
            deregistration_delay_ms: Arc::default(),
        };
        let router = Router::new()
            .route("/v1/agent/service/register", put(register))
            .route("/v1/agent/service/deregister/{id}", put(deregister))
            .route("/v1/agent/service/{id}", get(agent_service))
            .route("/v1/health/service/{name}", get(health_service))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { addr, shared, server })
    }

    /// `http://127.0.0.1:PORT`, for `ConsulRegistry::new`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many `/v1/health/service` queries have arrived.
    pub fn health_queries(&self) -> usize {
        self.shared.health_queries.load(Ordering::SeqCst)
    }

    /// Registered ids (passing or not).
    pub fn registered(&self) -> Vec<String> {
        self.shared.inner.lock().expect("double lock").entries.keys().cloned().collect()
    }

    pub fn is_passing(&self, id: &str) -> bool {
        self.shared.inner.lock().expect("double lock").entries.get(id).is_some_and(|e| e.passing)
    }

    /// Whether an instance of `service` registered on `port` passes its
    /// check, whatever its id (instances choose their own).
    pub fn is_passing_at(&self, service: &str, port: u16) -> bool {
        let inner = self.shared.inner.lock().expect("double lock");
        inner.entries.values().any(|e| e.registration.name == service && e.registration.port == port && e.passing)
    }

    /// Each deregistration, with whether the instance still accepted
    /// connections when it arrived.
    pub fn deregistrations(&self) -> Vec<(String, bool)> {
        self.shared.inner.lock().expect("double lock").deregistrations.clone()
    }

    /// Moves the index back to `to`, as after a snapshot restore.
    pub fn reset_index(&self, to: u64) {
        let mut inner = self.shared.inner.lock().expect("double lock");
        inner.index = to;
        self.shared.changed.send_replace(to);
    }

    /// Forgets every registration and stops its checks, as an agent that
    /// restarted with an empty catalog: instances must register again.
    pub fn forget_everything(&self) {
        let mut inner = self.shared.inner.lock().expect("double lock");
        for entry in std::mem::take(&mut inner.entries).into_values() {
            if let Some(checker) = entry.checker {
                checker.abort();
            }
        }
        self.shared.bump(&mut inner);
    }

    /// Answers each deregistration only after `delay` (a loaded agent), so
    /// a test can watch an instance between the start of its shutdown and
    /// the close of its listeners.
    pub fn delay_deregistrations(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.deregistration_delay_ms.store(millis, Ordering::SeqCst);
    }

    /// Reports `X-Consul-Index: 0` on every answer (a known Consul bug).
    pub fn report_zero_index(&self, on: bool) {
        self.shared.zero_index.store(on, Ordering::SeqCst);
    }
}

impl Shared {
    fn bump(&self, inner: &mut Inner) {
        inner.index += 1;
        self.changed.send_replace(inner.index);
    }
}

async fn register(State(shared): State<Shared>, axum::Json(registration): axum::Json<Registration>) -> StatusCode {
    let mut inner = shared.inner.lock().expect("double lock");
    if let Some(old) = inner.entries.remove(&registration.id)
        && let Some(checker) = old.checker
    {
        checker.abort();
    }
    let checker =
        registration.check.clone().map(|check| tokio::spawn(run_check(shared.clone(), registration.id.clone(), check)));
    // Consul starts a check critical unless told otherwise.
    let passing = registration.check.is_none();
    inner.entries.insert(registration.id.clone(), Entry { registration, passing, checker });
    shared.bump(&mut inner);
    StatusCode::OK
}

/// The agent's view of one of its services: 200 with it, 404 without.
async fn agent_service(State(shared): State<Shared>, Path(id): Path<String>) -> impl IntoResponse {
    let inner = shared.inner.lock().expect("double lock");
    match inner.entries.get(&id) {
        Some(entry) => {
            let r = &entry.registration;
            let body = json!({ "ID": r.id, "Service": r.name, "Address": r.address, "Port": r.port });
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("unknown service ID: {id}")).into_response(),
    }
}

async fn deregister(State(shared): State<Shared>, Path(id): Path<String>) -> StatusCode {
    let delay = shared.deregistration_delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let target = shared
        .inner
        .lock()
        .expect("double lock")
        .entries
        .get(&id)
        .map(|e| format!("{}:{}", e.registration.address, e.registration.port));
    let Some(target) = target else { return StatusCode::OK };
    let listening = tokio::net::TcpStream::connect(&target).await.is_ok();
    let mut inner = shared.inner.lock().expect("double lock");
    if let Some(entry) = inner.entries.remove(&id)
        && let Some(checker) = entry.checker
    {
        checker.abort();
    }
    inner.deregistrations.push((id, listening));
    shared.bump(&mut inner);
    StatusCode::OK
}

#[derive(Deserialize)]
struct HealthQuery {
    passing: Option<String>,
    index: Option<u64>,
    wait: Option<String>,
}

async fn health_service(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(query): Query<HealthQuery>,
) -> impl IntoResponse {
    shared.health_queries.fetch_add(1, Ordering::SeqCst);
    if let Some(wanted) = query.index.filter(|i| *i > 0) {
        let wait = query.wait.as_deref().and_then(parse_duration).unwrap_or(Duration::from_secs(300));
        let mut changed = shared.changed.subscribe();
        // Block while the index has not moved past the one the client has.
        let _ = tokio::time::timeout(wait, changed.wait_for(|index| *index > wanted)).await;
    }
    let inner = shared.inner.lock().expect("double lock");
    let only_passing = query.passing.is_some();
    let entries: Vec<Value> = inner
        .entries
        .values()
        .filter(|e| e.registration.name == name && (!only_passing || e.passing))
        .map(|e| {
            let r = &e.registration;
            json!({
                "Node": { "Node": "consul-double", "Address": "127.0.0.1" },
                "Service": { "ID": r.id, "Service": r.name, "Address": r.address, "Port": r.port,
                             "Tags": r.tags, "Meta": r.meta },
                "Checks": [{ "Status": if e.passing { "passing" } else { "critical" } }],
            })
        })
        .collect();
    let index = if shared.zero_index.load(Ordering::SeqCst) { 0 } else { inner.index };
    let mut headers = HeaderMap::new();
    headers.insert("x-consul-index", index.into());
    (headers, axum::Json(entries))
}

async fn run_check(shared: Shared, id: String, check: Check) {
    let interval = check.interval.as_deref().and_then(parse_duration).unwrap_or(Duration::from_secs(10));
    let timeout = check.timeout.as_deref().and_then(parse_duration).unwrap_or(Duration::from_secs(10));
    let deregister_after = check.deregister_critical_service_after.as_deref().and_then(parse_duration);
    // Consul's HTTP checks do not keep connections alive between runs (its
    // check client disables keep-alives): each check is a new connection,
    // as here. A reused one could meet a server that closed it meanwhile.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("an HTTP client");
    let mut critical_since: Option<tokio::time::Instant> = None;
    loop {
        let passing = match (&check.http, &check.grpc) {
            (Some(url), _) => {
                matches!(tokio::time::timeout(timeout, http.get(url).send()).await, Ok(Ok(r)) if r.status().is_success())
            }
            (None, Some(target)) => tokio::time::timeout(timeout, grpc_check(target)).await.unwrap_or(false),
            (None, None) => true,
        };
        critical_since = if passing { None } else { critical_since.or_else(|| Some(tokio::time::Instant::now())) };
        {
            let mut inner = shared.inner.lock().expect("double lock");
            let expired =
                matches!((critical_since, deregister_after), (Some(since), Some(after)) if since.elapsed() >= after);
            if expired {
                inner.entries.remove(&id);
                shared.bump(&mut inner);
                return;
            }
            let Some(entry) = inner.entries.get_mut(&id) else { return };
            if entry.passing != passing {
                entry.passing = passing;
                shared.bump(&mut inner);
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// `host:port/service`, the form of Consul's GRPC check.
async fn grpc_check(target: &str) -> bool {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let (address, service) = target.split_once('/').unwrap_or((target, ""));
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://{address}")) else { return false };
    let Ok(channel) = endpoint.connect().await else { return false };
    let reply = HealthClient::new(channel).check(HealthCheckRequest { service: service.to_owned() }).await;
    reply.is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving)
}

/// Go duration strings as Consul takes them: `250ms`, `10s`, `1m`, `1h`.
fn parse_duration(value: &str) -> Option<Duration> {
    let split = value.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = value.split_at(split);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return None,
    })
}
