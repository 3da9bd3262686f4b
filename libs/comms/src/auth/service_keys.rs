//! The public keys of the installation's services, which verify service
//! tokens.
//!
//! deploy/secrets.sh writes them, one JSON object naming each service's
//! keys (public JWKs; a list, so a service can hold a new key beside the
//! old one while it changes):
//!
//! ```json
//! { "order": [{ "kty": "OKP", "crv": "Ed25519", "x": "…" }], "inventory": [ … ] }
//! ```
//!
//! A key's id is its RFC 7638 thumbprint, computed here, never read from
//! the file: whatever the file says, a key can only vouch for the service
//! it is listed under.
//!
//! Cheap to clone, and every clone is the same set: [`ServiceKeys::replace`]
//! changes it for all, when the file is read again
//! ([`super::reload_credentials`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, ThumbprintHash};

/// Key id → (owning service, key).
type ByKid = HashMap<String, (String, DecodingKey)>;

#[derive(Clone, Default)]
pub struct ServiceKeys {
    by_kid: Arc<RwLock<ByKid>>,
}

impl ServiceKeys {
    /// Reads the JSON form above. A key that is not a public Ed25519 JWK,
    /// or one listed under two services, is an error.
    pub fn parse(json: &str) -> anyhow::Result<Self> {
        let listed: HashMap<String, Vec<Jwk>> =
            serde_json::from_str(json).map_err(|e| anyhow::anyhow!("service keys are not {{service: [JWK]}}: {e}"))?;
        let mut by_kid = HashMap::new();
        for (service, keys) in listed {
            for jwk in keys {
                let ed25519 = matches!(&jwk.algorithm,
                    AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519);
                anyhow::ensure!(ed25519, "{service}'s key is not an Ed25519 key");
                let key = DecodingKey::from_jwk(&jwk)
                    .map_err(|e| anyhow::anyhow!("{service}'s key is not a usable public JWK: {e}"))?;
                let kid = jwk
                    .thumbprint(ThumbprintHash::SHA256)
                    .map_err(|e| anyhow::anyhow!("{service}'s key has no thumbprint: {e}"))?;
                if let Some((other, _)) = by_kid.insert(kid, (service.clone(), key)) {
                    anyhow::bail!("one key is listed under both {other} and {service}");
                }
            }
        }
        Ok(Self { by_kid: Arc::new(RwLock::new(by_kid)) })
    }

    /// The service owning the key `kid`, and the key.
    pub fn owner(&self, kid: &str) -> Option<(String, DecodingKey)> {
        self.by_kid.read().expect("service keys lock").get(kid).cloned()
    }

    /// Takes `other`'s keys in place of these, for every clone; whether
    /// any key or owner changed.
    pub fn replace(&self, other: &ServiceKeys) -> bool {
        let new = other.by_kid.read().expect("service keys lock").clone();
        let mut current = self.by_kid.write().expect("service keys lock");
        let owners = |keys: &ByKid| -> Vec<(String, String)> {
            let mut owners: Vec<(String, String)> = keys.iter().map(|(kid, (s, _))| (kid.clone(), s.clone())).collect();
            owners.sort();
            owners
        };
        let changed = owners(&current) != owners(&new);
        *current = new;
        changed
    }

    pub fn len(&self) -> usize {
        self.by_kid.read().expect("service keys lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
