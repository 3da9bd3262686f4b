//! Small upstreams the tests call: an HTTP server whose answers a test
//! scripts, counting every request it gets; and waiting on a watched
//! instance set.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use comms::client::http::HttpClient;
use comms::discovery::Instance;
use tokio::sync::watch;

/// One scripted answer: a status and its headers.
pub type Answer = (u16, Vec<(&'static str, String)>);

/// What the upstream answers: a status and headers, in order; the last
/// entry repeats forever.
#[derive(Clone, Default)]
pub struct Upstream {
    pub hits: Arc<AtomicUsize>,
    script: Arc<Mutex<Vec<Answer>>>,
    pub delay: Arc<Mutex<Duration>>,
    /// What `/health` answers (200 unless changed); not counted in `hits`.
    pub health: Arc<AtomicU16>,
}

impl Upstream {
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn answer(&self, script: Vec<Answer>) {
        *self.script.lock().unwrap() = script;
    }

    pub fn always(&self, status: u16) {
        self.answer(vec![(status, vec![])]);
    }

    pub fn set_health(&self, status: u16) {
        self.health.store(status, Ordering::SeqCst);
    }
}

async fn handle(State(upstream): State<Upstream>) -> impl IntoResponse {
    let n = upstream.hits.fetch_add(1, Ordering::SeqCst);
    let delay = *upstream.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (status, headers) = {
        let script = upstream.script.lock().unwrap();
        script.get(n).or(script.last()).cloned().unwrap_or((200, vec![]))
    };
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(name, value.parse().unwrap());
    }
    (StatusCode::from_u16(status).unwrap(), map, "answer")
}

/// Starts an upstream on a free port; it serves every path and method, and
/// `/health` always answers 200 unless `health_status` is changed.
pub async fn start_upstream() -> (SocketAddr, Upstream) {
    let upstream = Upstream::default();
    upstream.set_health(200);
    let router = Router::new()
        .route(
            "/health",
            axum::routing::get(|State(u): State<Upstream>| async move {
                StatusCode::from_u16(u.health.load(Ordering::SeqCst)).unwrap()
            }),
        )
        .fallback(any(handle))
        .with_state(upstream.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, upstream)
}

/// Waits (up to 10 s) until the watched set satisfies `done`.
pub async fn until(rx: &mut watch::Receiver<Vec<Instance>>, done: impl Fn(&[Instance]) -> bool) -> Vec<Instance> {
    within(Duration::from_secs(10), rx, done).await
}

/// Waits until the watched set satisfies `done`, failing after `bound`.
pub async fn within(
    bound: Duration,
    rx: &mut watch::Receiver<Vec<Instance>>,
    done: impl Fn(&[Instance]) -> bool,
) -> Vec<Instance> {
    tokio::time::timeout(bound, rx.wait_for(|set| done(set)))
        .await
        .unwrap_or_else(|_| panic!("the watched set changed as expected within {bound:?}"))
        .expect("watch open")
        .clone()
}

/// Makes `calls` GET calls through `client`, whatever they answer.
pub async fn spread(client: &HttpClient, calls: usize) {
    for _ in 0..calls {
        let _ = client.get("/work").send().await;
    }
}
