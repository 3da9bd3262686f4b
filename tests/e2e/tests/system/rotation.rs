//! Changing the user-token key while requests flow: two user instances
//! behind the gateway, deploy/rotate-key.sh run step by step, and a
//! client sending authenticated requests throughout, announce to retire,
//! with tokens issued before and during the change: not one is refused.
//! Once the old key is retired, its tokens are refused at the gateway and
//! at a service's port. Then a rogue user instance registers in the
//! discovery double with keys of its own: nobody asks it for them, and its
//! tokens are refused at both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::{Api, Options, SERVICES, System, leak};
use reqwest::StatusCode;
use serde_json::json;

/// Runs one step of the rotation script on the user keys in `secrets`.
fn rotate(step: &str, secrets: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rotate-key.sh");
    let out = std::process::Command::new(script).args(["user", step]).env("SECRETS_DIR", secrets).output().unwrap();
    assert!(out.status.success(), "rotate-key.sh user {step}: {}", String::from_utf8_lossy(&out.stderr));
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// The key ids a user instance publishes.
async fn published(addr: std::net::SocketAddr) -> Vec<String> {
    let set: serde_json::Value =
        reqwest::get(format!("http://{addr}/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    let mut ids: Vec<String> =
        set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().into()).collect();
    ids.sort();
    ids
}

/// Until `request` answers `status`, for up to ten seconds.
async fn until_status<F, Fut>(status: StatusCode, request: F) -> StatusCode
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = StatusCode>,
{
    let mut last = request().await;
    for _ in 0..100 {
        if last == status {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = request().await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_user_key_changes_under_load_without_a_refused_request() {
    // As deploy/secrets.sh lays them out: SECRETS/user/jwt-ed25519.pem.
    let secrets: PathBuf = std::env::temp_dir().join(format!("switchyard-rotation-{}", uuid::Uuid::new_v4().simple()));
    let keys = secrets.join("user");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("jwt-ed25519.pem"), testkit::keys::ed25519_pem()).unwrap();
    // Fast clocks: instances read their key files every second, verifiers
    // fetch at most every second for an unknown key and every two seconds
    // on their schedule.
    // The client sends about 60 requests a second, from one address: above
    // the gateway's default rate limits for one user and one address.
    let mut env = vec![
        ("USER_JWT__RELOAD_SECS", "1".to_owned()),
        ("GATEWAY_RATE_PER_SECOND", "1000".to_owned()),
        ("GATEWAY_RATE_BURST", "1000".to_owned()),
        ("GATEWAY_ADDRESS_RATE_PER_SECOND", "1000".to_owned()),
        ("GATEWAY_ADDRESS_RATE_BURST", "1000".to_owned()),
    ];
    for service in SERVICES {
        let prefix = service.to_uppercase();
        env.push((leak(format!("{prefix}_AUTH__KEYS_MIN_REFRESH_SECS")), "1".into()));
        env.push((leak(format!("{prefix}_AUTH__KEYS_MAX_AGE_SECS")), "2".into()));
    }
    let options = Options { user_instances: 2, user_key_dir: Some(keys.clone()), env, ..Options::default() };
    let system = System::start_with("rabbitmq", options).await.expect("the system starts");
    let users = [system.http_addr("user"), system.http_addr("user-2")];
    let api = Api::new(&system.gateway);
    let email = format!("rosa-{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let password = "a customer's password";
    let (status, _) =
        api.post("/api/auth/register", json!({ "email": email, "name": "Rosa", "password": password })).await;
    assert_eq!(status, StatusCode::CREATED);
    let before = api.login(&email, password).await;
    let old_kid = kid(&before);

    // The client: one authenticated request after another, alternating the
    // token from before the change and the latest one from a login, which
    // a second task renews every 200 ms (through the gateway, so from
    // either instance).
    let stop = Arc::new(AtomicBool::new(false));
    let tokens = Arc::new(Mutex::new(vec![before.clone(), before.clone()]));
    let statuses = Arc::new(Mutex::new(BTreeMap::<u16, usize>::new()));
    let client = {
        let (stop, tokens, statuses, api) = (stop.clone(), tokens.clone(), statuses.clone(), api.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let token = tokens.lock().unwrap()[n % 2].clone();
                let (status, _) = api.with_token(&token).get("/api/orders").await;
                *statuses.lock().unwrap().entry(status.as_u16()).or_default() += 1;
                n += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let logins = {
        let (stop, tokens, api, email) = (stop.clone(), tokens.clone(), api.clone(), email.clone());
        tokio::spawn(async move {
            let mut issued = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let token = api.login(&email, password).await;
                tokens.lock().unwrap()[1] = token.clone();
                issued.push(token);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            issued
        })
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    rotate("announce", &secrets);
    tokio::time::sleep(Duration::from_secs(3)).await;
    for user in users {
        assert_eq!(published(user).await.len(), 2, "every instance publishes the announced key");
    }
    rotate("activate", &secrets);
    tokio::time::sleep(Duration::from_secs(4)).await;
    // Retirement comes once the longest token lifetime has passed since
    // activation, when no token of the old key is in use any more: the
    // client's first token becomes one of the new key, and requests go on
    // flowing through the retire step and the verifiers' next refresh.
    let fresh = api.login(&email, password).await;
    assert_ne!(kid(&fresh), old_kid, "the instances sign with the new key");
    tokens.lock().unwrap()[0] = fresh;
    tokio::time::sleep(Duration::from_secs(2)).await;
    rotate("retire", &secrets);
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::SeqCst);
    client.await.unwrap();
    let issued = logins.await.unwrap();

    let statuses = statuses.lock().unwrap().clone();
    let sent: usize = statuses.values().sum();
    assert_eq!(statuses.get(&401), None, "no request refused, announce to retire: {statuses:?}");
    // Five systems share two cores while this binary runs: a health check
    // may time out and take an instance out of discovery for a moment (a
    // 503). That is not what this test is about; a refused token is.
    let answered = statuses.get(&200).copied().unwrap_or_default();
    assert!(answered * 100 >= sent * 99, "nearly every request answered 200: {statuses:?}");
    assert!(sent > 100, "requests flowed throughout: {sent}");
    let new_kid = kid(issued.last().unwrap());
    assert_ne!(new_kid, old_kid, "the instances sign with the new key");
    assert!(issued.iter().any(|t| kid(t) == old_kid), "tokens were issued with the old key during the change too");

    // Retired: the old key's tokens are refused, at the gateway and at the
    // order service's own port; the new key's still pass.
    for user in users {
        assert_eq!(published(user).await, vec![new_kid.clone()], "only the new key is published");
    }
    let at_gateway =
        until_status(StatusCode::UNAUTHORIZED, || async { api.with_token(&before).get("/api/orders").await.0 }).await;
    assert_eq!(at_gateway, StatusCode::UNAUTHORIZED, "the retired key's token at the gateway");
    let order = system.http_addr("order");
    let http = reqwest::Client::new();
    let at_service = until_status(StatusCode::UNAUTHORIZED, || async {
        http.get(format!("http://{order}/orders")).bearer_auth(&before).send().await.unwrap().status()
    })
    .await;
    assert_eq!(at_service, StatusCode::UNAUTHORIZED, "the retired key's token at the order service's port");
    let newest = issued.last().unwrap();
    // Up to 15 s: longer than a breaker's break (5 s) plus the health
    // checks that bring an instance back to discovery, since a 503 left
    // over from the load above is not what this checks.
    let (mut status, mut body) = (StatusCode::SERVICE_UNAVAILABLE, serde_json::Value::Null);
    for _ in 0..150 {
        (status, body) = api.with_token(newest).get("/api/orders").await;
        assert_ne!(status, StatusCode::UNAUTHORIZED, "the new key's token is never refused");
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK, "the new key's token passes: {body}");

    rogue_instance_is_never_asked_for_keys_and_its_tokens_are_refused(&system, &api).await;
    std::fs::remove_dir_all(&secrets).unwrap();
}

/// A rogue registers in the discovery double as a third `user` instance,
/// passing its health check and serving a key set of its own. The gateway
/// sends it user-service traffic, since discovery decides that, but
/// verifiers read only their configured URLs: nobody asks it for keys, and
/// a token it signs is refused at the gateway and at the order service's
/// port.
async fn rogue_instance_is_never_asked_for_keys_and_its_tokens_are_refused(system: &System, api: &Api) {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    let key = EncodingKey::from_ed_pem(testkit::keys::ed25519_pem().as_bytes()).unwrap();
    let rogue = Rogue::serve(&key).await;
    rogue.register(&system.consul).await;
    // Discovery has it: logins through the gateway reach it too.
    for _ in 0..100 {
        if rogue.routed.load(Ordering::SeqCst) > 0 {
            break;
        }
        api.post("/api/auth/login", json!({ "email": "nobody@example.com", "password": "x" })).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rogue.routed.load(Ordering::SeqCst) > 0, "the gateway routes user traffic to the rogue");

    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("rogue".into());
    let claims = json!({ "sub": uuid::Uuid::new_v4(), "roles": ["admin"], "iss": "switchyard-user",
                         "aud": "switchyard", "exp": jsonwebtoken::get_current_timestamp() + 600 });
    let forged = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    assert_eq!(api.with_token(&forged).get("/api/orders").await.0, StatusCode::UNAUTHORIZED, "at the gateway");
    let order = system.http_addr("order");
    let at_service =
        reqwest::Client::new().get(format!("http://{order}/orders")).bearer_auth(&forged).send().await.unwrap();
    assert_eq!(at_service.status(), StatusCode::UNAUTHORIZED, "at the order service's port");
    assert_eq!(rogue.asked_for_keys.load(Ordering::SeqCst), 0, "the rogue was never asked for its keys");
}

/// A server posing as a user instance, counting what reaches it.
struct Rogue {
    addr: std::net::SocketAddr,
    asked_for_keys: Arc<AtomicUsize>,
    routed: Arc<AtomicUsize>,
}

impl Rogue {
    async fn serve(key: &jsonwebtoken::EncodingKey) -> Self {
        use jsonwebtoken::{Algorithm, jwk};

        let mut public = jwk::Jwk::from_encoding_key(key, Algorithm::EdDSA).unwrap();
        public.common.key_id = Some("rogue".into());
        let set = jwk::JwkSet { keys: vec![public] };
        let (asked_for_keys, routed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (keys_count, routed_count) = (asked_for_keys.clone(), routed.clone());
        let app = axum::Router::new()
            .route("/health/ready", axum::routing::get(|| async { "ok" }))
            .route(
                "/.well-known/jwks.json",
                axum::routing::get(move || {
                    keys_count.fetch_add(1, Ordering::SeqCst);
                    std::future::ready(axum::Json(set.clone()))
                }),
            )
            .fallback(move || {
                routed_count.fetch_add(1, Ordering::SeqCst);
                std::future::ready(StatusCode::UNAUTHORIZED)
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, asked_for_keys, routed }
    }

    /// Registers through the double's HTTP API, as an instance would, and
    /// waits until the double's check of it passes.
    async fn register(&self, consul: &testkit::ConsulDouble) {
        let registration = json!({
            "ID": "user-rogue", "Name": "user", "Address": "127.0.0.1", "Port": self.addr.port(),
            "Check": { "HTTP": format!("http://{}/health/ready", self.addr), "Interval": "1s" },
        });
        let url = format!("{}/v1/agent/service/register", consul.url());
        assert!(reqwest::Client::new().put(url).json(&registration).send().await.unwrap().status().is_success());
        for _ in 0..100 {
            if consul.is_passing_at("user", self.addr.port()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the double never passed the rogue's check");
    }
}
