//! Credentials read from files are read again while the service runs, so
//! a service's key changes without a restart (deploy/rotate-key.sh):
//! first every verifier learns the new public key (the service keys file
//! lists it beside the old), then the service signs with it (its identity
//! file changes), and once no token signed with the old key is still
//! valid, the old public key leaves the list.

use std::sync::Arc;
use std::time::Duration;

use super::{AuthSettings, ServiceIdentity, ServiceKeys};
use crate::Shutdown;

/// Reads `AUTH__IDENTITY_KEY_FILE` and `AUTH__SERVICE_KEYS_FILE` again
/// every `AUTH__KEYS_RELOAD_SECS` until `stop` trips, and takes what
/// changed. A file that cannot be read or parsed (one being replaced) keeps
/// what is in use, with a warning; the task itself never fails.
pub async fn reload_credentials(
    auth: AuthSettings,
    identity: Arc<ServiceIdentity>,
    keys: ServiceKeys,
    stop: Shutdown,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(Duration::from_secs(auth.keys_reload_secs.max(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is now: the files were just read
    loop {
        tokio::select! {
            () = stop.clone().wait() => return Ok(()),
            _ = ticks.tick() => {}
        }
        if let Some(path) = &auth.identity_key_file {
            match std::fs::read(path).map_err(anyhow::Error::from).and_then(|pem| identity.replace_key(&pem)) {
                Ok(true) => tracing::info!(kid = identity.kid(), "signing with a new identity key"),
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, path, "cannot read the identity key; keeping the one in use"),
            }
        }
        if let Some(path) = &auth.service_keys_file {
            let read = std::fs::read_to_string(path).map_err(anyhow::Error::from).and_then(|j| ServiceKeys::parse(&j));
            match read {
                Ok(new) if keys.replace(&new) => tracing::info!(keys = keys.len(), "the service keys changed"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, path, "cannot read the service keys; keeping those in use"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use jsonwebtoken::jwk::JwkSet;

    use super::*;
    use crate::auth::{Principal, UserKeys, Verifier};

    fn script(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy").join(name)
    }

    fn rotate(step: &str, dir: &Path) {
        let out = std::process::Command::new(script("rotate-key.sh"))
            .args(["service", "order", step])
            .env("SECRETS_DIR", dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "rotate-key.sh service order {step}: {}", String::from_utf8_lossy(&out.stderr));
    }

    async fn accepted(verifier: &Verifier, token: &str) -> bool {
        verifier.verify(Some(&format!("Bearer {token}"))).await == Ok(Principal::Service("order".into()))
    }

    /// The files as deploy/secrets.sh makes them; order calls inventory
    /// while deploy/rotate-key.sh changes order's key step by step.
    #[tokio::test]
    async fn a_service_key_changes_without_a_refused_call_and_the_old_one_is_refused_once_retired() {
        let dir = std::env::temp_dir().join(format!("switchyard-service-key-{}", uuid::Uuid::new_v4().simple()));
        let made = std::process::Command::new(script("secrets.sh")).arg(&dir).output().unwrap();
        assert!(made.status.success(), "secrets.sh: {}", String::from_utf8_lossy(&made.stderr));
        let auth = AuthSettings {
            identity_key_file: Some(dir.join("order/identity.pem").display().to_string()),
            service_keys_file: Some(dir.join("public/service-keys.json").display().to_string()),
            keys_reload_secs: 1,
            ..AuthSettings::default()
        };
        // Order signs; inventory verifies. Both read the files again.
        let order = Arc::new(auth.identity("order", "ORDER_").unwrap());
        let keys = auth.service_keys("INVENTORY_").unwrap();
        let listed = keys.len();
        let no_users = UserKeys::fixed(JwkSet { keys: vec![] });
        let inventory = Verifier::new("inventory", no_users, keys.clone(), "issuer", "audience");
        let stop = Shutdown::new();
        tokio::spawn(reload_credentials(auth, order.clone(), keys.clone(), stop.clone()));
        let reloaded = || tokio::time::sleep(Duration::from_millis(1500));

        let old = order.token_for("inventory");
        assert!(accepted(&inventory, &old).await);

        rotate("announce", &dir);
        reloaded().await;
        assert_eq!(keys.len(), listed + 1, "the next key is listed");
        assert_eq!(order.token_for("inventory"), old, "order still signs with its key");

        rotate("activate", &dir);
        reloaded().await;
        let new = order.token_for("inventory");
        assert_ne!(jsonwebtoken::decode_header(&new).unwrap().kid, jsonwebtoken::decode_header(&old).unwrap().kid);
        assert!(accepted(&inventory, &new).await, "the new key's token passes");
        assert!(accepted(&inventory, &old).await, "and the old key's, until it is retired");

        rotate("retire", &dir);
        reloaded().await;
        assert_eq!(keys.len(), listed);
        assert!(!accepted(&inventory, &old).await, "the retired key's token is refused");
        assert!(accepted(&inventory, &new).await);
        stop.trigger();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
