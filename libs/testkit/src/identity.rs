//! Callers as a test makes them: tokens signed with keys made at run time,
//! verified by the service under test exactly as in production.
//!
//! - a user: [`user_token`], signed with the test binary's user-token key,
//!   whose public half a key server of this module publishes
//!   ([`user_keys_url`]) where services fetch it;
//! - a service: [`service_token`], signed with that service's test identity
//!   ([`identity_pem`]); [`service_keys`] lists every such identity, so a
//!   service under test knows them all.
//!
//! [`auth_settings`] and [`auth_env`] hand a service under test all of it.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use comms::auth::{AuthSettings, ServiceIdentity};
use comms::settings::ServiceDefaults;
use jsonwebtoken::jwk::{Jwk, JwkSet, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use uuid::Uuid;

/// Who a request is from: a signed-in user.
#[derive(Clone, Debug)]
pub struct As {
    pub id: Uuid,
    /// Comma-separated, as a token's roles read.
    pub roles: &'static str,
}

impl As {
    pub fn customer(id: Uuid) -> Self {
        Self { id, roles: "customer" }
    }

    pub fn admin() -> Self {
        Self { id: Uuid::now_v7(), roles: "customer,admin" }
    }

    /// A token for this user.
    pub fn token(&self) -> String {
        let roles: Vec<&str> = self.roles.split(',').filter(|r| !r.is_empty()).collect();
        user_token(self.id, &roles)
    }
}

/// Sends a request as someone.
pub trait Identified {
    fn identified_as(self, who: &As) -> Self;
}

impl Identified for reqwest::RequestBuilder {
    fn identified_as(self, who: &As) -> Self {
        self.bearer_auth(who.token())
    }
}

/// The services of deploy/services.toml, the template, and `skeleton`
/// (the library's own test service): every name a test may call as.
fn known_services() -> &'static [String] {
    static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let list = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/services.toml"))
            .expect("read deploy/services.toml");
        let mut names: Vec<String> = list
            .lines()
            .filter_map(|line| line.strip_prefix("name = \"")?.strip_suffix('"').map(str::to_owned))
            .collect();
        names.extend(["template".to_owned(), "skeleton".to_owned()]);
        names
    });
    &NAMES
}

/// `name`'s private key for this test binary, made on first use.
pub fn identity_pem(name: &str) -> String {
    static KEYS: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Mutex::default);
    KEYS.lock().unwrap().entry(name.to_owned()).or_insert_with(crate::keys::ed25519_pem).clone()
}

/// The public keys of every known service, as deploy/secrets.sh lists
/// them.
pub fn service_keys() -> String {
    let listed: serde_json::Map<String, Value> = known_services()
        .iter()
        .map(|name| {
            let identity = ServiceIdentity::from_pem(name, identity_pem(name).as_bytes()).expect("a test identity");
            (name.clone(), json!([identity.public_jwk()]))
        })
        .collect();
    Value::Object(listed).to_string()
}

/// A token `caller` signs to call `audience`, as its client would send it.
pub fn service_token(caller: &str, audience: &str) -> String {
    ServiceIdentity::from_pem(caller, identity_pem(caller).as_bytes()).expect("a test identity").token_for(audience)
}

fn user_key() -> EncodingKey {
    EncodingKey::from_ed_pem(crate::keys::shared_ed25519_pem().as_bytes()).expect("the test user-token key")
}

/// The public JWK of the user-token key, with its key id.
pub fn user_jwk() -> Jwk {
    let mut jwk = Jwk::from_encoding_key(&user_key(), Algorithm::EdDSA).expect("a public JWK");
    jwk.common.key_id = Some(jwk.thumbprint(ThumbprintHash::SHA256).expect("a thumbprint"));
    jwk
}

/// The claims the user service puts in a token for `id`, valid ten minutes.
pub fn user_claims(id: Uuid, roles: &[&str]) -> Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({ "sub": id.to_string(), "roles": roles, "iss": "switchyard-user", "aud": "switchyard",
            "iat": now, "exp": now + 600 })
}

/// A user token, as the user service issues it at login.
pub fn user_token(id: Uuid, roles: &[&str]) -> String {
    sign_user_claims(&user_claims(id, roles))
}

/// Any claims, signed as a user token is (for forged or expired ones).
pub fn sign_user_claims(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = user_jwk().common.key_id;
    jsonwebtoken::encode(&header, claims, &user_key()).expect("sign")
}

/// Where services under test fetch the user-token key set: a key server
/// on its own thread, started on first use and serving for the rest of the
/// test binary (each test has its own runtime, which would take a server
/// down with it).
pub fn user_keys_url() -> &'static str {
    static URL: LazyLock<String> = LazyLock::new(|| {
        let (sent, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the key server");
                sent.send(listener.local_addr().expect("an address")).expect("report the address");
                let keys = JwkSet { keys: vec![user_jwk()] };
                let app = axum::Router::new()
                    .route("/.well-known/jwks.json", axum::routing::get(move || std::future::ready(axum::Json(keys))));
                axum::serve(listener, app).await.expect("serve the key set");
            });
        });
        format!("http://{}/.well-known/jwks.json", address.recv().expect("the key server's address"))
    });
    &URL
}

/// A service's auth settings under test: its own test identity, every
/// known service's key, and the test key server for user tokens.
pub fn auth_settings(service: &ServiceDefaults) -> AuthSettings {
    AuthSettings {
        identity_key: Some(identity_pem(service.name)),
        service_keys: Some(service_keys()),
        user_keys_urls: Some(user_keys_url().to_owned()),
        ..AuthSettings::default()
    }
}

/// The same, as a service process reads it from its environment.
pub fn auth_env(service: &ServiceDefaults) -> Vec<(&'static str, String)> {
    let key = |name: &str| -> &'static str { format!("{}AUTH__{name}", service.prefix).leak() };
    vec![
        (key("IDENTITY_KEY"), identity_pem(service.name)),
        (key("SERVICE_KEYS"), service_keys()),
        (key("USER_KEYS_URLS"), user_keys_url().to_owned()),
    ]
}

/// How `me` checks service tokens, with the test's service keys and no
/// user keys: for a double that must refuse callers as the real one does.
pub fn service_verifier(me: &str) -> comms::auth::Verifier {
    let no_users = comms::auth::UserKeys::fixed(JwkSet { keys: vec![] });
    let services = comms::auth::ServiceKeys::parse(&service_keys()).expect("the test's service keys");
    let defaults = AuthSettings::default();
    comms::auth::Verifier::new(me, no_users, services, &defaults.issuer, &defaults.audience)
}
