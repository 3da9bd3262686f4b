//! Passwords and their argon2id hashes.
//!
//! Hashing is CPU-bound by design (tens of milliseconds), so it runs on the
//! blocking pool: on the async workers it would stall every other request.
//! It is memory-hard too, so no more hashes run at once than there are
//! cores: more would finish no sooner, and would each hold their memory
//! while they wait for a core.
//!
//! The wait for a core is bounded too ([`Hashing`]): a sign-in storm beyond
//! what the cores can hash is answered at once with "busy, retry in a
//! second" instead of queueing until the gateway times out, which would
//! read as a failing service and open the gateway's breaker for every user
//! route.
//!
//! The cost is OWASP's first argon2id setting: 46 MiB, one pass. OWASP
//! lists it beside 19 MiB × 2 passes (argon2's default) as equally strong.
//! It is chosen for what the allocator does with the memory afterwards:
//! glibc serves any block over 32 MiB straight from the kernel and returns
//! it when freed, whereas a 19 MiB block stays in the allocator's arena
//! for reuse, and a service idle after one login kept 19 MiB it no longer
//! needed (docs/performance.md, figure 8). Hashes made with other settings
//! still verify: each stored hash names its own.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHash as ParsedHash, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// 46 MiB (in KiB), one pass, one lane.
const MEMORY_KIB: u32 = 47_104;
const PASSES: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Every hash is refused: more are waiting for a core than the bound allows.
#[derive(Debug)]
pub struct Busy;

/// The service's hashing capacity: one hash at a time per core, at most
/// `max_waiting` more queued, and the rest refused at once ([`Busy`]).
///
/// It also holds the hash an unknown account's password is checked
/// against, made at start with the hasher's own parameters: a sign-in for
/// an account that does not exist costs exactly one hash of the same
/// parameters as one that does, so neither the answer's timing nor the
/// server's load tells them apart.
#[derive(Clone)]
pub struct Hashing {
    inner: Arc<Inner>,
}

struct Inner {
    cores: Semaphore,
    /// Tickets for running or waiting: cores plus `max_waiting`.
    tickets: Arc<Semaphore>,
    dummy: PasswordHash,
    /// Hashes run, by their argon2 parameters (`m=…,t=…,p=…`).
    runs: Mutex<BTreeMap<String, u64>>,
}

/// A place in the hashing queue, held from before a sign-in is counted
/// until its hash is done: a refusal for capacity comes before anything
/// else happens.
pub struct Slot {
    hashing: Hashing,
    _ticket: OwnedSemaphorePermit,
}

impl Hashing {
    /// Makes the unknown-account hash (one hash, on the blocking pool).
    pub async fn new(max_waiting: usize) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let secret = uuid::Uuid::new_v4().to_string();
        let dummy = tokio::task::spawn_blocking(move || make_hash(&secret)).await??;
        Ok(Self {
            inner: Arc::new(Inner {
                cores: Semaphore::new(cores),
                tickets: Arc::new(Semaphore::new(cores + max_waiting)),
                dummy,
                runs: Mutex::default(),
            }),
        })
    }

    /// A place in the queue, or [`Busy`] at once.
    pub fn reserve(&self) -> Result<Slot, Busy> {
        let ticket = self.inner.tickets.clone().try_acquire_owned().map_err(|_| Busy)?;
        Ok(Slot { hashing: self.clone(), _ticket: ticket })
    }

    /// Hashes run so far, by parameters.
    pub fn runs(&self) -> BTreeMap<String, u64> {
        self.inner.runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The parameters new hashes are made with, as a PHC string names them.
    pub fn current_params() -> String {
        format!("m={MEMORY_KIB},t={PASSES},p=1")
    }

    /// The parameters of the unknown-account hash.
    pub fn dummy_params(&self) -> String {
        params_of(&self.inner.dummy.0).unwrap_or_default()
    }

    fn counted(&self, params: String) {
        metrics::counter!("password_hashes_total", "params" => params.clone()).increment(1);
        *self.inner.runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(params).or_default() += 1;
    }

    /// Runs one argon2 computation on the blocking pool, once a core is free.
    async fn on_a_core<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let _core = self.inner.cores.acquire().await?;
        Ok(tokio::task::spawn_blocking(work).await?)
    }
}

impl Slot {
    pub async fn hash(self, password: Password) -> anyhow::Result<PasswordHash> {
        self.hashing.counted(Hashing::current_params());
        self.hashing.on_a_core(move || make_hash(&password.0)).await?
    }

    /// Checks `candidate` against `hash`. A malformed stored hash is an
    /// internal error, not a wrong password.
    pub async fn verify(self, hash: PasswordHash, candidate: String) -> anyhow::Result<bool> {
        let params = params_of(&hash.0).ok_or_else(|| anyhow::anyhow!("stored hash is malformed"))?;
        self.hashing.counted(params);
        self.hashing
            .on_a_core(move || {
                let parsed = ParsedHash::new(&hash.0).map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
                Ok(hasher().verify_password(candidate.as_bytes(), &parsed).is_ok())
            })
            .await?
    }

    /// Checks `candidate` for an account that does not exist: the same work
    /// as [`Slot::verify`], and always false.
    pub async fn verify_unknown(self, candidate: String) -> anyhow::Result<bool> {
        let dummy = self.hashing.inner.dummy.clone();
        self.verify(dummy, candidate).await.map(|_| false)
    }
}

fn make_hash(password: &str) -> anyhow::Result<PasswordHash> {
    // 16 bytes from the OS generator (UUIDv4 draws them from getrandom).
    let salt =
        SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes()).map_err(|e| anyhow::anyhow!("encode salt: {e}"))?;
    let hash = hasher().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("hash password: {e}"))?;
    Ok(PasswordHash(hash.to_string()))
}

/// `m=…,t=…,p=…` of a PHC string, in that order.
fn params_of(phc: &str) -> Option<String> {
    let parsed = ParsedHash::new(phc).ok()?;
    let params = Params::try_from(&parsed).ok()?;
    Some(format!("m={},t={},p={}", params.m_cost(), params.t_cost(), params.p_cost()))
}

/// A candidate password, 8 to 128 characters. Never logged, never stored.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.chars().count() {
            0..8 => Err("must be at least 8 characters".into()),
            8..=128 => Ok(Self(raw.to_owned())),
            _ => Err("must be at most 128 characters".into()),
        }
    }
}

/// An argon2id hash in PHC string form, as stored in the database.
#[derive(Clone, Debug)]
pub struct PasswordHash(pub String);

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, SaltString};

    use super::{Hashing, Password, PasswordHash};

    #[tokio::test]
    async fn hashes_carry_their_settings_and_older_settings_still_verify() {
        let hashing = Hashing::new(1).await.unwrap();
        let slot = || hashing.reserve().unwrap();
        let hash = slot().hash(Password::parse("correct horse battery").unwrap()).await.unwrap();
        assert!(hash.0.starts_with("$argon2id$v=19$m=47104,t=1,p=1$"), "{}", hash.0);
        assert!(slot().verify(hash.clone(), "correct horse battery".into()).await.unwrap());
        assert!(!slot().verify(hash, "wrong horse battery".into()).await.unwrap());

        // A hash stored under argon2's default (19 MiB, two passes).
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let older = argon2::Argon2::default().hash_password(b"an older password", &salt).unwrap().to_string();
        assert!(older.contains("m=19456,t=2,p=1"));
        assert!(slot().verify(PasswordHash(older), "an older password".into()).await.unwrap());
        let runs = hashing.runs();
        assert_eq!(runs.get("m=47104,t=1,p=1"), Some(&3), "{runs:?}");
        assert_eq!(runs.get("m=19456,t=2,p=1"), Some(&1), "{runs:?}");
    }

    #[tokio::test]
    async fn the_unknown_account_hash_is_made_at_start_with_the_hashers_own_parameters() {
        let hashing = Hashing::new(1).await.unwrap();
        assert_eq!(hashing.dummy_params(), Hashing::current_params());
        assert!(!hashing.reserve().unwrap().verify_unknown("anything at all".into()).await.unwrap());
        assert_eq!(hashing.runs().get(&Hashing::current_params()), Some(&1));
    }

    #[tokio::test]
    async fn past_the_cores_and_the_waiting_bound_a_hash_is_refused_at_once() {
        let hashing = Hashing::new(2).await.unwrap();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let held: Vec<_> = (0..cores + 2).map(|_| hashing.reserve().expect("within the bound")).collect();
        assert!(hashing.reserve().is_err(), "one more than cores + waiting");
        drop(held);
        assert!(hashing.reserve().is_ok(), "places come back when hashes finish");
    }
}
