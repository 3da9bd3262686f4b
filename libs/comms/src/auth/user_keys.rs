//! The user service's public keys, which verify user tokens.
//!
//! Fetched from every configured source (a URL per user instance, or a
//! file) and merged: a key is trusted while at least one
//! source's latest answer publishes it. During a rotation, when instances
//! publish different sets for a while, a token signed by any of them
//! verifies; a key no source publishes any more is dropped at the next
//! refresh. A source that fails keeps what it last published.
//!
//! Refreshed when a token names a key id not yet known, at most once per
//! [`KeyRefresh::min_interval`] (default 30 s): a flood of tokens with
//! random `kid`s cannot turn into a flood of requests to the user service.
//! Refreshed on a schedule, too, every [`KeyRefresh::period`] (default
//! 5 min), by a task that ends with the last clone: a retired key stays
//! trusted at most that long after the last source stops publishing it,
//! whether tokens arrive or not.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How often the key sets are fetched again.
#[derive(Clone, Copy, Debug)]
pub struct KeyRefresh {
    /// The least time between two fetches, however many unknown key ids
    /// arrive.
    pub min_interval: Duration,
    /// How often they are fetched regardless (`AUTH__KEYS_MAX_AGE_SECS`):
    /// the longest a retired key stays trusted.
    pub period: Duration,
}

/// Where the key sets come from: one answer per source, named.
pub type FetchKeys = Box<dyn Fn() -> BoxFuture<'static, Vec<(String, anyhow::Result<JwkSet>)>> + Send + Sync>;

/// Cheap to clone; every clone is the same set.
#[derive(Clone)]
pub struct UserKeys {
    inner: Arc<Inner>,
}

struct Inner {
    /// Source → the keys it last published, by key id.
    by_source: RwLock<HashMap<String, HashMap<String, DecodingKey>>>,
    fetch: FetchKeys,
    /// The last fetch, successful or not; guards the refresh rate, and is
    /// held while a fetch runs.
    last_fetch: Mutex<Option<Instant>>,
    refresh: KeyRefresh,
}

impl UserKeys {
    /// Must be called inside a Tokio runtime, which runs the schedule.
    pub fn new(fetch: FetchKeys, refresh: KeyRefresh) -> Self {
        let inner = Inner { by_source: RwLock::default(), fetch, last_fetch: Mutex::new(None), refresh };
        let keys = Self { inner: Arc::new(inner) };
        keys.refresh_on_schedule();
        keys
    }

    /// Fetched from each URL, every one a source of its own: list every
    /// user instance, so that during a rotation the keys any of them
    /// publishes are trusted.
    pub fn from_urls(urls: Vec<String>, refresh: KeyRefresh) -> Self {
        let http = key_client();
        let fetch: FetchKeys = Box::new(move || {
            let fetches = urls.iter().map(|url| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let answer = fetch(&http, &url).await;
                    (url, answer)
                }
            });
            Box::pin(futures::future::join_all(fetches))
        });
        Self::new(fetch, refresh)
    }

    /// Read from a JWK Set file, read again at each refresh: whoever
    /// writes the file (an operator, a secret store) decides the keys.
    pub fn from_file(path: &str, refresh: KeyRefresh) -> Self {
        let path = path.to_owned();
        let fetch: FetchKeys = Box::new(move || {
            let read = std::fs::read_to_string(&path)
                .map_err(anyhow::Error::from)
                .and_then(|json| Ok(serde_json::from_str::<JwkSet>(&json)?));
            Box::pin(std::future::ready(vec![(path.clone(), read)]))
        });
        Self::new(fetch, refresh)
    }

    /// A set known in advance: the user service's own, in the user service.
    pub fn fixed(set: JwkSet) -> Self {
        Self::new(
            Box::new(move || Box::pin(std::future::ready(vec![("fixed".into(), Ok(set.clone()))]))),
            KeyRefresh { min_interval: Duration::ZERO, period: Duration::MAX },
        )
    }

    /// The key with this id, fetching the sets again if it is unknown and
    /// the last fetch is old enough.
    pub async fn get(&self, kid: &str) -> Option<DecodingKey> {
        if let Some(key) = self.key(kid) {
            return Some(key);
        }
        self.inner.refresh().await;
        self.key(kid)
    }

    /// Every key id trusted now.
    pub fn key_ids(&self) -> Vec<String> {
        let by_source = self.inner.by_source.read().expect("keys lock");
        let mut ids: Vec<String> = by_source.values().flat_map(|keys| keys.keys().cloned()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.inner.by_source.read().expect("keys lock").values().find_map(|keys| keys.get(kid)).cloned()
    }

    /// Fetches every [`KeyRefresh::period`] (the first fetch is the first
    /// token's), whatever fetch an unknown key id made meanwhile: skipping
    /// a tick for it would let a retired key live up to a period longer.
    /// The task holds the keys weakly, so it ends once every clone is
    /// dropped.
    fn refresh_on_schedule(&self) {
        let every = self.inner.refresh.period;
        // A set that never ages (`fixed`, `Duration::MAX`) has no schedule.
        // Tokio's interval refuses a zero period; the settings refuse it
        // first, by name.
        if every.is_zero() {
            return;
        }
        let Some(first) = Instant::now().checked_add(every) else { return };
        let keys = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(first, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = keys.upgrade() else { return };
                inner.refresh_unless_fetched_within(Duration::ZERO).await;
            }
        });
    }
}

impl Inner {
    /// Fetches every source unless a fetch ran less than
    /// [`KeyRefresh::min_interval`] ago.
    async fn refresh(&self) {
        self.refresh_unless_fetched_within(self.refresh.min_interval).await;
    }

    /// Fetches every source unless a fetch ran less than `recent` ago.
    /// Concurrent callers wait for one fetch instead of each making one.
    async fn refresh_unless_fetched_within(&self, recent: Duration) {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < recent) {
            return;
        }
        *last = Some(Instant::now());
        let answers = (self.fetch)().await;
        let mut by_source = self.by_source.write().expect("keys lock");
        let mut merged = HashMap::new();
        for (source, answer) in answers {
            match answer {
                Ok(set) => {
                    let keys: HashMap<String, DecodingKey> = set
                        .keys
                        .iter()
                        .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
                        .collect();
                    merged.insert(source, keys);
                }
                Err(error) => {
                    tracing::warn!(%error, %source, "cannot fetch the token verification keys");
                    if let Some(kept) = by_source.remove(&source) {
                        merged.insert(source, kept);
                    }
                }
            }
        }
        // Sources no longer listed are gone, and with them what only they
        // published.
        *by_source = merged;
        let keys: usize = by_source.values().map(HashMap::len).sum();
        tracing::info!(sources = by_source.len(), keys, "fetched the token verification keys");
    }
}

fn key_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .pool_idle_timeout(crate::client::POOL_IDLE_TIMEOUT)
        .build()
        .expect("reqwest client")
}

async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<JwkSet> {
    Ok(http.get(url).send().await?.error_for_status()?.json::<JwkSet>().await?)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
    use jsonwebtoken::{Algorithm, EncodingKey};

    use super::*;

    fn jwk() -> Jwk {
        let key = EncodingKey::from_ed_pem(testkit::keys::ed25519_pem().as_bytes()).unwrap();
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA).unwrap();
        jwk.common.key_id = Some(jwk.thumbprint(ThumbprintHash::SHA256).unwrap());
        jwk
    }

    fn kid(jwk: &Jwk) -> String {
        jwk.common.key_id.clone().unwrap()
    }

    /// Sources whose answers the test sets: `None` is a failed fetch.
    type Answers = Arc<StdMutex<Vec<(String, Option<Vec<Jwk>>)>>>;

    fn scripted(answers: &Answers) -> UserKeys {
        let answers = answers.clone();
        UserKeys::new(
            Box::new(move || {
                let now: Vec<(String, anyhow::Result<JwkSet>)> = answers
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(source, keys)| {
                        let answer = keys.clone().map(|keys| JwkSet { keys }).ok_or_else(|| anyhow::anyhow!("down"));
                        (source.clone(), answer)
                    })
                    .collect();
                Box::pin(std::future::ready(now))
            }),
            KeyRefresh { min_interval: Duration::ZERO, period: Duration::MAX },
        )
    }

    #[tokio::test]
    async fn keys_of_every_source_are_trusted_and_a_key_no_source_publishes_is_dropped() {
        let (old, new) = (jwk(), jwk());
        // Mid-rotation: one instance publishes old and new, the other old only.
        let answers: Answers = Arc::new(StdMutex::new(vec![
            ("a".into(), Some(vec![old.clone(), new.clone()])),
            ("b".into(), Some(vec![old.clone()])),
        ]));
        let keys = scripted(&answers);
        assert!(keys.get(&kid(&new)).await.is_some());
        assert!(keys.get(&kid(&old)).await.is_some());

        // Retired: both publish the new key only.
        *answers.lock().unwrap() = vec![("a".into(), Some(vec![new.clone()])), ("b".into(), Some(vec![new.clone()]))];
        keys.inner.refresh().await;
        assert_eq!(keys.key_ids(), vec![kid(&new)]);
        assert!(keys.get(&kid(&old)).await.is_none(), "the retired key is refused");
    }

    #[tokio::test]
    async fn a_failing_source_keeps_what_it_published_and_a_vanished_one_takes_its_keys_along() {
        let (a_key, b_key) = (jwk(), jwk());
        let answers: Answers = Arc::new(StdMutex::new(vec![
            ("a".into(), Some(vec![a_key.clone()])),
            ("b".into(), Some(vec![b_key.clone()])),
        ]));
        let keys = scripted(&answers);
        keys.inner.refresh().await;

        *answers.lock().unwrap() = vec![("a".into(), None), ("b".into(), Some(vec![b_key.clone()]))];
        keys.inner.refresh().await;
        assert!(keys.get(&kid(&a_key)).await.is_some(), "a is down, not retired");

        *answers.lock().unwrap() = vec![("b".into(), Some(vec![b_key.clone()]))];
        keys.inner.refresh().await;
        assert_eq!(keys.key_ids(), vec![kid(&b_key)], "a is no longer configured");
    }

    #[tokio::test]
    async fn a_key_file_is_read_again_at_each_refresh() {
        let (old, new) = (jwk(), jwk());
        let path = std::env::temp_dir().join(format!("user-keys-{}.json", kid(&old)));
        let write = |keys: Vec<Jwk>| std::fs::write(&path, serde_json::to_string(&JwkSet { keys }).unwrap()).unwrap();
        write(vec![old.clone()]);
        let refresh = KeyRefresh { min_interval: Duration::ZERO, period: Duration::MAX };
        let keys = UserKeys::from_file(path.to_str().unwrap(), refresh);
        assert!(keys.get(&kid(&old)).await.is_some());

        write(vec![new.clone()]);
        assert!(keys.get(&kid(&new)).await.is_some(), "an unknown key id reads the file again");
        assert_eq!(keys.key_ids(), vec![kid(&new)], "the key the file no longer holds is dropped");
        std::fs::remove_file(&path).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_retired_key_is_dropped_on_schedule_with_no_token_arriving() {
        let (old, new) = (jwk(), jwk());
        let answers: Answers = Arc::new(StdMutex::new(vec![("a".into(), Some(vec![old.clone(), new.clone()]))]));
        let answered = answers.clone();
        let keys = UserKeys::new(
            Box::new(move || {
                let keys = answered.lock().unwrap()[0].1.clone().unwrap();
                Box::pin(std::future::ready(vec![("a".into(), Ok(JwkSet { keys }))]))
            }),
            KeyRefresh { min_interval: Duration::from_secs(30), period: Duration::from_secs(300) },
        );
        assert!(keys.get(&kid(&old)).await.is_some());
        *answers.lock().unwrap() = vec![("a".into(), Some(vec![new.clone()]))];

        tokio::time::advance(Duration::from_secs(299)).await;
        assert_eq!(keys.key_ids().len(), 2, "not yet due");
        tokio::time::advance(Duration::from_secs(2)).await;
        tokio::task::yield_now().await;
        assert_eq!(keys.key_ids(), vec![kid(&new)], "dropped by the schedule, before any token names it");

        // A fetch for an unknown key id just before the next tick does not
        // put the tick off.
        *answers.lock().unwrap() = vec![("a".into(), Some(vec![old.clone()]))];
        tokio::time::advance(Duration::from_secs(290)).await;
        assert!(keys.get("unknown").await.is_none());
        assert_eq!(keys.key_ids(), vec![kid(&old)]);
        *answers.lock().unwrap() = vec![("a".into(), Some(vec![new.clone()]))];
        tokio::time::advance(Duration::from_secs(11)).await;
        tokio::task::yield_now().await;
        assert_eq!(keys.key_ids(), vec![kid(&new)], "refreshed at the tick, 11 s after the other fetch");

        // The schedule holds the keys weakly: dropping the last clone frees them.
        let schedule = Arc::downgrade(&keys.inner);
        drop(keys);
        assert!(schedule.upgrade().is_none(), "nothing else holds the keys");
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_key_ids_fetch_at_most_once_per_min_refresh() {
        let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = fetches.clone();
        let keys = UserKeys::new(
            Box::new(move || {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Box::pin(std::future::ready(vec![("a".into(), Ok(JwkSet { keys: vec![] }))]))
            }),
            KeyRefresh { min_interval: Duration::from_secs(30), period: Duration::from_secs(300) },
        );
        for n in 0..50 {
            assert!(keys.get(&format!("random-{n}")).await.is_none());
        }
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(keys.get("random").await.is_none());
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
