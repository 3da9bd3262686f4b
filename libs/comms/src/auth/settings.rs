//! Where a service's credential and the keys it verifies with come from.
//!
//! | variable (under the service's prefix) | default |
//! |---|---|
//! | `AUTH__IDENTITY_KEY_FILE` (or `AUTH__IDENTITY_KEY`, the PEM itself) | required: this service's Ed25519 private key |
//! | `AUTH__SERVICE_KEYS_FILE` (or `AUTH__SERVICE_KEYS`, the JSON itself) | required: the installation's public service keys |
//! | `AUTH__USER_KEYS_SERVICE` | `user`: user-token keys from its instances' `/.well-known/jwks.json` |
//! | `AUTH__USER_KEYS_URL` | unset; set, the key set is fetched from this URL instead |
//! | `AUTH__ISSUER` / `AUTH__AUDIENCE` | `switchyard-user` / `switchyard`, as the user service issues them |
//! | `AUTH__KEYS_MIN_REFRESH_SECS` | `30`: the least time between two fetches of the user key set |
//!
//! There is no setting that turns verification off: a service without its
//! key or the service keys does not start.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ServiceIdentity, ServiceKeys, UserKeys};
use crate::discovery::ServiceRegistry;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AuthSettings {
    pub identity_key: Option<String>,
    pub identity_key_file: Option<String>,
    pub service_keys: Option<String>,
    pub service_keys_file: Option<String>,
    pub user_keys_service: String,
    pub user_keys_url: Option<String>,
    pub issuer: String,
    pub audience: String,
    pub keys_min_refresh_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            identity_key: None,
            identity_key_file: None,
            service_keys: None,
            service_keys_file: None,
            user_keys_service: "user".into(),
            user_keys_url: None,
            issuer: "switchyard-user".into(),
            audience: "switchyard".into(),
            keys_min_refresh_secs: 30,
        }
    }
}

impl AuthSettings {
    /// `name`'s identity, from the key itself or its file.
    pub fn identity(&self, name: &str, prefix: &str) -> anyhow::Result<ServiceIdentity> {
        let pem = value_or_file(&self.identity_key, &self.identity_key_file, prefix, "IDENTITY_KEY")?;
        ServiceIdentity::from_pem(name, pem.as_bytes())
    }

    pub fn service_keys(&self, prefix: &str) -> anyhow::Result<ServiceKeys> {
        let json = value_or_file(&self.service_keys, &self.service_keys_file, prefix, "SERVICE_KEYS")?;
        ServiceKeys::parse(&json).map_err(|e| anyhow::anyhow!("{prefix}AUTH__SERVICE_KEYS: {e}"))
    }

    /// Where user-token keys come from: the URL if set, else the
    /// instances of `user_keys_service` as `registry` lists them.
    pub fn user_keys(&self, registry: &dyn ServiceRegistry) -> UserKeys {
        match &self.user_keys_url {
            Some(url) => UserKeys::from_url(url, self.keys_min_refresh()),
            None => UserKeys::discovered(registry.watch(&self.user_keys_service), self.keys_min_refresh()),
        }
    }

    pub fn keys_min_refresh(&self) -> Duration {
        Duration::from_secs(self.keys_min_refresh_secs)
    }
}

fn value_or_file(value: &Option<String>, file: &Option<String>, prefix: &str, key: &str) -> anyhow::Result<String> {
    match (value, file) {
        (Some(value), _) => Ok(value.clone()),
        (None, Some(path)) => {
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("read {prefix}AUTH__{key}_FILE {path}: {e}"))
        }
        (None, None) => anyhow::bail!(
            "set {prefix}AUTH__{key}_FILE (or {prefix}AUTH__{key}): every service verifies its callers and \
             proves who it is (deploy/secrets.sh makes the files for development)"
        ),
    }
}
