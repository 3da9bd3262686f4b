//! This service's own credential: an Ed25519 key that signs the tokens it
//! sends to the services it calls. The key can be replaced while the
//! service runs ([`ServiceIdentity::replace_key`]), when its file changes
//! during a rotation (deploy/rotate-key.sh).

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::SERVICE_TOKEN_SECS;

/// The claims of a service token: who signs, and the one service it is for.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ServiceClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

pub struct ServiceIdentity {
    name: String,
    signing: RwLock<Signing>,
    /// Audience → (token, its expiry): a token is reused until a minute
    /// before it expires, so most calls sign nothing.
    tokens: Mutex<HashMap<String, (String, u64)>>,
}

/// The key tokens are signed with, and its id.
struct Signing {
    key: EncodingKey,
    kid: String,
}

impl Signing {
    fn from_pem(name: &str, pem: &[u8]) -> anyhow::Result<Self> {
        let key = EncodingKey::from_ed_pem(pem)
            .map_err(|e| anyhow::anyhow!("{name}'s identity key is not an Ed25519 PKCS#8 PEM: {e}"))?;
        let kid = Jwk::from_encoding_key(&key, Algorithm::EdDSA)
            .and_then(|jwk| jwk.thumbprint(ThumbprintHash::SHA256))
            .map_err(|e| anyhow::anyhow!("derive {name}'s key id: {e}"))?;
        Ok(Self { key, kid })
    }
}

impl std::fmt::Debug for ServiceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceIdentity").field("name", &self.name).field("kid", &self.kid()).finish_non_exhaustive()
    }
}

impl ServiceIdentity {
    /// `name`'s identity from its private key (PKCS#8 PEM, as
    /// `openssl genpkey -algorithm ed25519` writes it).
    pub fn from_pem(name: &str, pem: &[u8]) -> anyhow::Result<Self> {
        let signing = Signing::from_pem(name, pem)?;
        Ok(Self { name: name.to_owned(), signing: RwLock::new(signing), tokens: Mutex::default() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The id of the key it signs with.
    pub fn kid(&self) -> String {
        self.signing.read().expect("identity lock").kid.clone()
    }

    /// Signs with the key `pem` from now on, if it is another key; whether
    /// it was. Tokens signed with the old one are not reused.
    pub fn replace_key(&self, pem: &[u8]) -> anyhow::Result<bool> {
        let new = Signing::from_pem(&self.name, pem)?;
        let mut signing = self.signing.write().expect("identity lock");
        if signing.kid == new.kid {
            return Ok(false);
        }
        *signing = new;
        // Released before the cache is taken: `token_for` takes the two in
        // the other order.
        drop(signing);
        self.tokens.lock().expect("token cache lock").clear();
        Ok(true)
    }

    /// The public half, as the service keys file lists it.
    pub fn public_jwk(&self) -> Jwk {
        let signing = self.signing.read().expect("identity lock");
        Jwk::from_encoding_key(&signing.key, Algorithm::EdDSA).expect("an Ed25519 key has a public JWK")
    }

    /// A token for calling `audience`, from the cache while it has more
    /// than a minute left.
    pub fn token_for(&self, audience: &str) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let mut tokens = self.tokens.lock().expect("token cache lock");
        if let Some((token, exp)) = tokens.get(audience)
            && *exp > now + 60
        {
            return token.clone();
        }
        let claims = ServiceClaims {
            iss: self.name.clone(),
            sub: self.name.clone(),
            aud: audience.to_owned(),
            iat: now,
            exp: now + SERVICE_TOKEN_SECS,
        };
        let signing = self.signing.read().expect("identity lock");
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(signing.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &signing.key).expect("sign with an Ed25519 key");
        tokens.insert(audience.to_owned(), (token.clone(), claims.exp));
        token
    }
}
