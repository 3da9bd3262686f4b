//! Access tokens: signed here with a private Ed25519 key, verified anywhere
//! with the public half published as a JWKS.
//!
//! An asymmetric key means a gateway (or any service) can check a token
//! without being able to mint one. The key comes from configuration and is
//! never generated per process: every replica must sign with the same key.

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::domain::User;

/// The claims of every token this service issues.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub roles: Vec<String>,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

pub struct TokenIssuer {
    key: EncodingKey,
    kid: String,
    jwks: JwkSet,
    issuer: String,
    audience: String,
    ttl_secs: u64,
}

impl TokenIssuer {
    /// Signs with `current` and publishes it with `also_published`: the
    /// previous key, whose tokens stay valid until they expire, and the
    /// next one, announced before any instance signs with it.
    pub fn rotating(
        current: &[u8],
        also_published: &[Vec<u8>],
        issuer: String,
        audience: String,
        ttl_secs: u64,
    ) -> anyhow::Result<Self> {
        let key = signing_key(current)?;
        let (kid, jwk) = public_jwk(&key)?;
        let mut keys = vec![jwk];
        for pem in also_published {
            let (other, jwk) = public_jwk(&signing_key(pem)?)?;
            if other != kid && !keys.iter().any(|k| k.common.key_id.as_deref() == Some(&other)) {
                keys.push(jwk);
            }
        }
        Ok(Self { key, kid, jwks: JwkSet { keys }, issuer, audience, ttl_secs })
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// The id of the key tokens are signed with.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Every published key's id, sorted.
    pub fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.jwks.keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
        ids.sort();
        ids
    }

    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    pub fn issue(&self, user: &User) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user.id.to_string(),
            roles: user.roles.clone(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_secs,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}

fn signing_key(pem: &[u8]) -> anyhow::Result<EncodingKey> {
    EncodingKey::from_ed_pem(pem).map_err(|e| anyhow::anyhow!("JWT key is not an Ed25519 PKCS#8 PEM: {e}"))
}

/// The key's id and public JWK. The RFC 7638 thumbprint is the key id:
/// stable for a key, different for any other, so verifiers can pick the
/// right key during a rotation.
fn public_jwk(key: &EncodingKey) -> anyhow::Result<(String, Jwk)> {
    let mut jwk =
        Jwk::from_encoding_key(key, Algorithm::EdDSA).map_err(|e| anyhow::anyhow!("derive the public JWK: {e}"))?;
    let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(|e| anyhow::anyhow!("thumbprint the JWK: {e}"))?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok((kid, jwk))
}
