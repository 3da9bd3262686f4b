//! Passwords and their argon2id hashes.
//!
//! Hashing is CPU-bound by design (tens of milliseconds), so it runs on the
//! blocking pool: on the async workers it would stall every other request.
//! It is memory-hard too, so no more hashes run at once than there are
//! cores: more would finish no sooner, and would each hold their memory
//! while they wait for a core.
//!
//! The cost is OWASP's first argon2id setting: 46 MiB, one pass. OWASP
//! lists it beside 19 MiB × 2 passes (argon2's default) as equally strong.
//! It is chosen for what the allocator does with the memory afterwards:
//! glibc serves any block over 32 MiB straight from the kernel and returns
//! it when freed, whereas a 19 MiB block stays in the allocator's arena
//! for reuse, and a service idle after one login kept 19 MiB it no longer
//! needed (docs/performance.md, figure 8). Hashes made with other settings
//! still verify: each stored hash names its own.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHash as ParsedHash, Version};
use tokio::sync::Semaphore;

/// 46 MiB (in KiB), one pass, one lane.
const MEMORY_KIB: u32 = 47_104;
const PASSES: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

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
            let hash =
                hasher().hash_password(self.0.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("hash password: {e}"))?;
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
            Ok(hasher().verify_password(candidate.as_bytes(), &parsed).is_ok())
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, SaltString};

    use super::{Password, PasswordHash};

    #[tokio::test]
    async fn hashes_carry_their_settings_and_older_settings_still_verify() {
        let hash = Password::parse("correct horse battery").unwrap().hash().await.unwrap();
        assert!(hash.0.starts_with("$argon2id$v=19$m=47104,t=1,p=1$"), "{}", hash.0);
        assert!(hash.clone().verify("correct horse battery".into()).await.unwrap());
        assert!(!hash.verify("wrong horse battery".into()).await.unwrap());

        // A hash stored under argon2's default (19 MiB, two passes).
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let older = argon2::Argon2::default().hash_password(b"an older password", &salt).unwrap().to_string();
        assert!(older.contains("m=19456,t=2,p=1"));
        assert!(PasswordHash(older).verify("an older password".into()).await.unwrap());
    }
}
