//! The user service's own settings, read from `USER_*` environment
//! variables beside the ones every service reads
//! (`comms::settings::ServiceSettings`: `USER_HOST`, `_HTTP_PORT` 8081,
//! `_GRPC_PORT` 9081, `_METRICS_PORT` 7081, `_DATABASE_URL`, `_DATABASE_MAX_CONNECTIONS`,
//! `_SHUTDOWN_GRACE_SECS`, `_CONSUL_URL`, `_ADVERTISE_HOST`, and the
//! unprefixed broker variables; defaults from [`crate::SERVICE`]).
//!
//! | variable | default |
//! |---|---|
//! | `USER_JWT__PRIVATE_KEY` or `USER_JWT__PRIVATE_KEY_FILE` | required: an Ed25519 PKCS#8 PEM, the key tokens are signed with |
//! | `USER_JWT__PUBLISHED_KEY_FILES` | unset; comma-separated PEM files of keys published beside it but not signed with: the previous key during a rotation, and the next one once announced; a file that does not exist is skipped (docs/patterns/identity.md) |
//! | `USER_JWT__RELOAD_SECS` | `10`: how often the key files are read again, so a rotation needs no restart |
//! | `USER_JWT__ISSUER` / `USER_JWT__AUDIENCE` | `switchyard-user` / `switchyard` |
//! | `USER_JWT__TTL_SECS` | `900` |
//! | `USER_LOGIN__ACCOUNT_FREE_FAILURES` | `10`: failed sign-ins on one account, from addresses it never signed in from, before each further try waits (`login_throttle`) |
//! | `USER_LOGIN__PAIR_FREE_FAILURES` | `5`: the same for one account from one address |
//! | `USER_LOGIN__ADDRESS_FREE_FAILURES` | `20`: the same for one address (IPv6: its /64) on any accounts |
//! | `USER_LOGIN__MAX_WAIT_SECS` | `900`: the longest wait the doubling back-off reaches |
//! | `USER_LOGIN__FAILURE_MEMORY_SECS` | `3600`: failures are forgotten this long after the last one |
//! | `USER_LOGIN__KNOWN_ADDRESS_DAYS` | `30`: how long an address that signed in stays exempt from its account's count |
//! | `USER_HASHING__MAX_WAITING` | `8`: password hashes that may wait for a core; one more is a 503 with `Retry-After` at once |
//! | `USER_SEED_ADMIN__EMAIL` with `USER_SEED_ADMIN__PASSWORD` or `USER_SEED_ADMIN__PASSWORD_FILE` | unset; if set, this admin is created at the first start only (deleted, it stays deleted); the only account that gets the admin role |

use serde::{Deserialize, Serialize};

pub type Settings = comms::settings::Settings<UserSettings>;

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct UserSettings {
    pub jwt: JwtSettings,
    pub seed_admin: SeedAdmin,
    pub login: LoginSettings,
    pub hashing: HashingSettings,
}

/// How failed sign-ins slow further tries (`login_throttle` explains the
/// policy). Each is a limit with a safe default; none is switched off by
/// a profile.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct LoginSettings {
    pub account_free_failures: u32,
    pub pair_free_failures: u32,
    pub address_free_failures: u32,
    pub max_wait_secs: u64,
    pub failure_memory_secs: u64,
    pub known_address_days: u32,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            account_free_failures: 10,
            pair_free_failures: 5,
            address_free_failures: 20,
            max_wait_secs: 900,
            failure_memory_secs: 3600,
            known_address_days: 30,
        }
    }
}

impl LoginSettings {
    /// A zero wait, memory or known period would switch the throttle off.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, value) in [
            ("USER_LOGIN__MAX_WAIT_SECS", self.max_wait_secs),
            ("USER_LOGIN__FAILURE_MEMORY_SECS", self.failure_memory_secs),
            ("USER_LOGIN__KNOWN_ADDRESS_DAYS", u64::from(self.known_address_days)),
        ] {
            anyhow::ensure!(value > 0, "{name} must be above 0: 0 would switch the login throttle off");
        }
        Ok(())
    }
}

/// The bound on password-hash work (`domain::password::Hashing`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct HashingSettings {
    pub max_waiting: usize,
}

impl Default for HashingSettings {
    fn default() -> Self {
        // About four hashes' time per core (~50 ms each): well inside the
        // gateway's 10 s, and enough to smooth an ordinary burst.
        Self { max_waiting: 8 }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct JwtSettings {
    pub private_key: Option<String>,
    pub private_key_file: Option<String>,
    pub published_key_files: Option<String>,
    pub issuer: String,
    pub audience: String,
    pub ttl_secs: u64,
    pub reload_secs: u64,
}

/// An admin account created at start if absent, so a fresh system can be
/// administered (compose and `just dev` set it; production would not).
///
/// It is the only way to the admin role. Registration never grants it, not
/// even for this email: were the seed account deleted, whoever registered
/// the address next would otherwise become an admin.
///
/// Created once per database, ever: a later start does not bring a deleted
/// seed admin back (`accounts::ensure_admin`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct SeedAdmin {
    pub email: Option<String>,
    pub password: Option<String>,
    /// A file holding the password (deploy/secrets.sh writes one per
    /// installation), so it is in no environment listing.
    pub password_file: Option<String>,
}

impl SeedAdmin {
    /// The email and password, if a seed admin is configured.
    pub fn credentials(&self) -> anyhow::Result<Option<(String, String)>> {
        let Some(email) = &self.email else { return Ok(None) };
        let password = match (&self.password, &self.password_file) {
            (Some(password), _) => password.clone(),
            (None, Some(path)) => comms::secret::read_secret(path, "USER_SEED_ADMIN__PASSWORD_FILE")?,
            (None, None) => anyhow::bail!(
                "USER_SEED_ADMIN__EMAIL is set: set USER_SEED_ADMIN__PASSWORD_FILE or USER_SEED_ADMIN__PASSWORD too"
            ),
        };
        Ok(Some((email.clone(), password)))
    }
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            private_key: None,
            private_key_file: None,
            published_key_files: None,
            issuer: "switchyard-user".into(),
            audience: "switchyard".into(),
            ttl_secs: 900,
            reload_secs: 10,
        }
    }
}

impl JwtSettings {
    /// The PEM text of each key published but not signed with. A listed
    /// file that does not exist is skipped: the next key's file exists only
    /// while a rotation is announced, the previous one's only until it is
    /// retired.
    pub fn published_key_pems(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        let files = self.published_key_files.as_deref().unwrap_or_default();
        let mut pems = Vec::new();
        for path in files.split(',').map(str::trim).filter(|path| !path.is_empty()) {
            match std::fs::read(path) {
                Ok(pem) => pems.push(pem),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => anyhow::bail!("read USER_JWT__PUBLISHED_KEY_FILES {path}: {error}"),
            }
        }
        Ok(pems)
    }

    /// Whether the keys come from files, which may change while it runs.
    pub fn from_files(&self) -> bool {
        self.private_key.is_none() && self.private_key_file.is_some()
    }

    /// The PEM text, from the variable itself or the file it names.
    pub fn private_key_pem(&self) -> anyhow::Result<Vec<u8>> {
        match (&self.private_key, &self.private_key_file) {
            (Some(pem), _) => Ok(pem.clone().into_bytes()),
            (None, Some(path)) => {
                std::fs::read(path).map_err(|e| anyhow::anyhow!("read USER_JWT__PRIVATE_KEY_FILE {path}: {e}"))
            }
            (None, None) => anyhow::bail!(
                "set USER_JWT__PRIVATE_KEY or USER_JWT__PRIVATE_KEY_FILE (deploy/secrets.sh makes a key for development)"
            ),
        }
    }
}
