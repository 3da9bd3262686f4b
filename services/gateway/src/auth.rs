//! Verifying access tokens with the user service's public keys.
//!
//! The gateway never holds a signing key. It fetches the JWK Set from the
//! user service, keeps it, and fetches again only when a token names a key
//! id it does not know, at most once per [`Verifier::min_refresh`]
//! (default 30 s): a flood of tokens with random `kid`s cannot turn into a
//! flood of requests to the user service.
//!
//! Only EdDSA is accepted, so `alg: none` and an HMAC token "signed" with
//! the public key are refused before any signature check; `exp`, `iss`,
//! `aud` and `sub` are required, and expiry allows 60 s of clock skew.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The claims the gateway acts on.
#[derive(Clone, Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Where the key set comes from.
pub type FetchKeys = Box<dyn Fn() -> futures::future::BoxFuture<'static, anyhow::Result<JwkSet>> + Send + Sync>;

pub struct Verifier {
    keys: RwLock<HashMap<String, DecodingKey>>,
    fetch: FetchKeys,
    validation: Validation,
    /// The last fetch, successful or not; guards the refresh rate.
    last_fetch: Mutex<Option<Instant>>,
    pub min_refresh: Duration,
}

impl Verifier {
    pub fn new(fetch: FetchKeys, issuer: &str, audience: &str, min_refresh: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self { keys: RwLock::default(), fetch, validation, last_fetch: Mutex::new(None), min_refresh }
    }

    /// Checks `Authorization: Bearer <token>`.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Claims, AuthError> {
        let token = authorization
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Invalid(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| AuthError::Invalid("no key id".into()))?;
        let key = match self.key(&kid) {
            Some(key) => key,
            None => {
                self.refresh().await;
                self.key(&kid).ok_or_else(|| AuthError::Invalid(format!("unknown key id {kid}")))?
            }
        };
        jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| AuthError::Invalid(e.to_string()))
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().expect("keys lock").get(kid).cloned()
    }

    /// Fetches the key set unless one was fetched less than `min_refresh`
    /// ago. Concurrent callers wait for one fetch instead of each making one.
    async fn refresh(&self) {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return;
        }
        *last = Some(Instant::now());
        match (self.fetch)().await {
            Ok(set) => {
                let keys: HashMap<String, DecodingKey> = set
                    .keys
                    .iter()
                    .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
                    .collect();
                tracing::info!(keys = keys.len(), "fetched the token verification keys");
                *self.keys.write().expect("keys lock") = keys;
            }
            Err(error) => tracing::warn!(%error, "cannot fetch the token verification keys"),
        }
    }
}

/// Fetches the JWK Set from an instance of the user service.
pub(crate) fn jwks_fetcher(instances: tokio::sync::watch::Receiver<Vec<comms::discovery::Instance>>) -> FetchKeys {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().expect("reqwest client");
    Box::new(move || {
        let http = http.clone();
        let instance = instances.borrow().first().cloned();
        Box::pin(async move {
            let instance =
                instance.ok_or_else(|| anyhow::anyhow!("no instance of the user service to fetch keys from"))?;
            let url = format!("http://{}/.well-known/jwks.json", instance.address);
            Ok(http.get(url).send().await?.error_for_status()?.json::<JwkSet>().await?)
        })
    })
}
