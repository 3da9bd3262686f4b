//! Passwords and their argon2id hashes.
//!
//! Hashing is CPU-bound by design (tens of milliseconds), so it runs on the
//! blocking pool: on the async workers it would stall every other request.
//! It is memory-hard too: each hash fills 19 MiB (argon2's default, the
//! OWASP minimum). So no more hashes run at once than there are cores;
//! more would finish no sooner, and would each hold their 19 MiB while
//! they wait for a core.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash as ParsedHash};
use tokio::sync::Semaphore;

static HASHING: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get())));

/// Runs one argon2 computation on the blocking pool, once a core is free.
async fn with_a_core<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let _core = HASHING.acquire().await?;
    Ok(tokio::task::spawn_blocking(work).await?)
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

    pub async fn hash(self) -> anyhow::Result<PasswordHash> {
        with_a_core(move || {
            // 16 bytes from the OS generator (UUIDv4 draws them from getrandom).
            let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes())
                .map_err(|e| anyhow::anyhow!("encode salt: {e}"))?;
            let hash = Argon2::default()
                .hash_password(self.0.as_bytes(), &salt)
                .map_err(|e| anyhow::anyhow!("hash password: {e}"))?;
            Ok(PasswordHash(hash.to_string()))
        })
        .await?
    }
}

/// An argon2id hash in PHC string form, as stored in the database.
#[derive(Clone, Debug)]
pub struct PasswordHash(pub String);

impl PasswordHash {
    /// Checks `candidate` against the hash. A malformed stored hash is an
    /// internal error, not a wrong password.
    pub async fn verify(self, candidate: String) -> anyhow::Result<bool> {
        with_a_core(move || {
            let parsed = ParsedHash::new(&self.0).map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
            Ok(Argon2::default().verify_password(candidate.as_bytes(), &parsed).is_ok())
        })
        .await?
    }
}
