//! Where a service's credential and the keys it verifies with come from.
//!
//! | variable (under the service's prefix) | default |
//! |---|---|
//! | `AUTH__IDENTITY_KEY_FILE` (or `AUTH__IDENTITY_KEY`, the PEM itself) | required: this service's Ed25519 private key |
//! | `AUTH__SERVICE_KEYS_FILE` (or `AUTH__SERVICE_KEYS`, the JSON itself) | required: the installation's public service keys |
//! | `AUTH__USER_KEYS_URLS` (or `AUTH__USER_KEYS_FILE`, a JWK Set) | required: where the user-token keys are fetched, comma-separated: one URL per user instance, or one a load balancer answers |
//! | `AUTH__ISSUER` / `AUTH__AUDIENCE` | `switchyard-user` / `switchyard`, as the user service issues them |
//! | `AUTH__KEYS_MIN_REFRESH_SECS` | `30`: the least time between two fetches of the user key set |
//! | `AUTH__KEYS_MAX_AGE_SECS` | `300`: the user keys are fetched again this often, so a retired key is dropped within it |
//! | `AUTH__KEYS_RELOAD_SECS` | `10`: how often the identity key and service keys files are read again, so a key changes without a restart |
//!
//! There is no setting that turns verification off: a service without its
//! key, the service keys or a source of user keys does not start.
//!
//! Why configured addresses and not discovery: whoever can register an
//! instance in the registry could otherwise serve keys every service
//! trusts. Discovery decides where requests go; it never decides whom to
//! believe.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{KeyRefresh, ServiceIdentity, ServiceKeys, UserKeys};

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AuthSettings {
    pub identity_key: Option<String>,
    pub identity_key_file: Option<String>,
    pub service_keys: Option<String>,
    pub service_keys_file: Option<String>,
    pub user_keys_urls: Option<String>,
    pub user_keys_file: Option<String>,
    pub issuer: String,
    pub audience: String,
    pub keys_min_refresh_secs: u64,
    pub keys_max_age_secs: u64,
    pub keys_reload_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            identity_key: None,
            identity_key_file: None,
            service_keys: None,
            service_keys_file: None,
            user_keys_urls: None,
            user_keys_file: None,
            issuer: "switchyard-user".into(),
            audience: "switchyard".into(),
            keys_min_refresh_secs: 30,
            keys_max_age_secs: 300,
            keys_reload_secs: 10,
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

    /// The user-token keys, from the configured URLs or file.
    pub fn user_keys(&self, prefix: &str) -> anyhow::Result<UserKeys> {
        anyhow::ensure!(
            self.keys_max_age_secs > 0,
            "{prefix}AUTH__KEYS_MAX_AGE_SECS is 0: it is the period of the key refresh, at least 1 (default 300)"
        );
        let refresh = self.keys_refresh();
        match (&self.user_keys_urls, &self.user_keys_file) {
            (Some(urls), _) => {
                let urls: Vec<String> =
                    urls.split(',').map(str::trim).filter(|url| !url.is_empty()).map(str::to_owned).collect();
                anyhow::ensure!(!urls.is_empty(), "{prefix}AUTH__USER_KEYS_URLS names no URL");
                Ok(UserKeys::from_urls(urls, refresh))
            }
            (None, Some(path)) => Ok(UserKeys::from_file(path, refresh)),
            (None, None) => anyhow::bail!(
                "set {prefix}AUTH__USER_KEYS_URLS (the user service's /.well-known/jwks.json, one URL per \
                 instance) or {prefix}AUTH__USER_KEYS_FILE: user-token keys come only from configured sources"
            ),
        }
    }

    pub fn keys_refresh(&self) -> KeyRefresh {
        KeyRefresh {
            min_interval: Duration::from_secs(self.keys_min_refresh_secs),
            period: Duration::from_secs(self.keys_max_age_secs),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_key_refresh_period_is_refused_by_name() {
        let settings = AuthSettings {
            user_keys_urls: Some("http://127.0.0.1:1/keys".into()),
            keys_max_age_secs: 0,
            ..Default::default()
        };
        let refused = settings.user_keys("GATEWAY_").err().expect("refused");
        assert!(refused.to_string().contains("GATEWAY_AUTH__KEYS_MAX_AGE_SECS"), "{refused}");
    }
}
