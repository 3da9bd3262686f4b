//! The token issuer in use, replaced when its key files change.
//!
//! A key rotation is a change of files (deploy/rotate-key.sh): the
//! next key appears beside the current one, then becomes the current one
//! while the old becomes the previous one, then the previous one goes.
//! Every instance reads the files again every `USER_JWT__RELOAD_SECS`, so a
//! rotation needs no restart, and instances sharing the files (one secret
//! volume) follow the same steps in the same order.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use comms::Shutdown;

use crate::config::JwtSettings;
use crate::tokens::TokenIssuer;

/// Cheap to clone; every clone sees the same issuer.
#[derive(Clone)]
pub struct SigningKeys {
    current: Arc<RwLock<Arc<TokenIssuer>>>,
}

impl SigningKeys {
    /// The issuer the settings describe now: signing with the private key,
    /// publishing it with every published key file that exists.
    pub fn load(jwt: &JwtSettings) -> anyhow::Result<TokenIssuer> {
        TokenIssuer::rotating(
            &jwt.private_key_pem()?,
            &jwt.published_key_pems()?,
            jwt.issuer.clone(),
            jwt.audience.clone(),
            jwt.ttl_secs,
        )
    }

    pub fn new(issuer: TokenIssuer) -> Self {
        tracing::info!(signing = issuer.kid(), published = ?issuer.key_ids(), "user-token keys");
        Self { current: Arc::new(RwLock::new(Arc::new(issuer))) }
    }

    pub fn current(&self) -> Arc<TokenIssuer> {
        self.current.read().expect("signing keys lock").clone()
    }

    /// Reads the key files again every `every` until `stop` trips. A read
    /// that fails (a file mid-replace, a bad key) keeps the keys in use.
    pub async fn reload(self, jwt: JwtSettings, every: Duration, stop: Shutdown) -> anyhow::Result<()> {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.clone().wait() => return Ok(()),
                _ = ticks.tick() => {}
            }
            match Self::load(&jwt) {
                Ok(issuer) => self.replace_if_changed(issuer),
                Err(error) => tracing::warn!(%error, "cannot read the user-token keys; keeping those in use"),
            }
        }
    }

    fn replace_if_changed(&self, issuer: TokenIssuer) {
        let mut current = self.current.write().expect("signing keys lock");
        if current.kid() == issuer.kid() && current.key_ids() == issuer.key_ids() {
            return;
        }
        tracing::info!(signing = issuer.kid(), published = ?issuer.key_ids(), "user-token keys changed");
        *current = Arc::new(issuer);
    }
}
