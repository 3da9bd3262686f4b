//! The user service's public keys, which verify user tokens.
//!
//! Fetched from the user service's `/.well-known/jwks.json` and kept, and
//! fetched again only when a token names a key id not yet known, at most
//! once per `min_refresh` (default 30 s): a flood of tokens with random
//! `kid`s cannot turn into a flood of requests to the user service.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use futures::future::BoxFuture;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use crate::discovery::Instance;

/// Where the key set comes from.
pub type FetchKeys = Box<dyn Fn() -> BoxFuture<'static, anyhow::Result<JwkSet>> + Send + Sync>;

pub struct UserKeys {
    keys: RwLock<HashMap<String, DecodingKey>>,
    fetch: FetchKeys,
    /// The last fetch, successful or not; guards the refresh rate.
    last_fetch: Mutex<Option<Instant>>,
    min_refresh: Duration,
}

impl UserKeys {
    pub fn new(fetch: FetchKeys, min_refresh: Duration) -> Self {
        Self { keys: RwLock::default(), fetch, last_fetch: Mutex::new(None), min_refresh }
    }

    /// Fetched from an instance of the user service as discovery lists
    /// them, over its REST port.
    pub fn discovered(instances: watch::Receiver<Vec<Instance>>, min_refresh: Duration) -> Self {
        let http = key_client();
        let fetch: FetchKeys = Box::new(move || {
            let http = http.clone();
            let instance = instances.borrow().first().cloned();
            Box::pin(async move {
                let instance =
                    instance.ok_or_else(|| anyhow::anyhow!("no instance of the user service to fetch keys from"))?;
                fetch(&http, &format!("http://{}/.well-known/jwks.json", instance.address)).await
            })
        });
        Self::new(fetch, min_refresh)
    }

    /// Fetched from a fixed URL.
    pub fn from_url(url: &str, min_refresh: Duration) -> Self {
        let (http, url) = (key_client(), url.to_owned());
        Self::new(
            Box::new(move || {
                let (http, url) = (http.clone(), url.clone());
                Box::pin(async move { fetch(&http, &url).await })
            }),
            min_refresh,
        )
    }

    /// A set known in advance: the user service's own, in the user service.
    pub fn fixed(set: JwkSet) -> Self {
        Self::new(Box::new(move || Box::pin(std::future::ready(Ok(set.clone())))), Duration::ZERO)
    }

    /// The key with this id, fetching the set again if it is unknown and
    /// the last fetch is old enough.
    pub async fn get(&self, kid: &str) -> Option<DecodingKey> {
        if let Some(key) = self.key(kid) {
            return Some(key);
        }
        self.refresh().await;
        self.key(kid)
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

fn key_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(3)).build().expect("reqwest client")
}

async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<JwkSet> {
    Ok(http.get(url).send().await?.error_for_status()?.json::<JwkSet>().await?)
}
