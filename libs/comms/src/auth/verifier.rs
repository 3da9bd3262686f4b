//! Turning an `Authorization: Bearer …` header into a [`Principal`].

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use uuid::Uuid;

use super::identity::ServiceClaims;
use super::{MAX_TOKEN_BYTES, Principal, ServiceKeys, UserKeys};
use crate::http::caller::Caller;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// The claims of a user token this system acts on.
#[derive(Deserialize)]
struct UserClaims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
}

pub struct Verifier {
    /// This service's name: the audience a service token must name.
    me: String,
    users: UserKeys,
    services: ServiceKeys,
    user_validation: Validation,
}

impl Verifier {
    /// Verifies user tokens from `issuer` for `audience` with `users`, and
    /// service tokens addressed to `me` with `services`.
    pub fn new(me: &str, users: UserKeys, services: ServiceKeys, issuer: &str, audience: &str) -> Self {
        let mut user_validation = Validation::new(Algorithm::EdDSA);
        user_validation.set_issuer(&[issuer]);
        user_validation.set_audience(&[audience]);
        user_validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self { me: me.to_owned(), users, services, user_validation }
    }

    /// Checks `Authorization: Bearer <token>`. Only EdDSA is accepted, so
    /// `alg: none` and an HMAC token "signed" with a public key are refused
    /// before any signature check; expiry allows 60 s of clock skew.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let token = authorization
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Invalid(format!("longer than {MAX_TOKEN_BYTES} bytes")));
        }
        let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Invalid(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| AuthError::Invalid("no key id".into()))?;
        if let Some((service, key)) = self.services.owner(&kid) {
            return self.service(token, &service, &key);
        }
        let key = self.users.get(&kid).await.ok_or_else(|| AuthError::Invalid(format!("unknown key id {kid}")))?;
        let claims = jsonwebtoken::decode::<UserClaims>(token, &key, &self.user_validation).map_err(invalid)?.claims;
        let user_id =
            Uuid::parse_str(&claims.sub).map_err(|_| AuthError::Invalid("the subject is not a user id".into()))?;
        Ok(Principal::User(Caller { user_id, roles: claims.roles }))
    }

    /// A service token: signed by `service`'s key, issued by and about
    /// `service` itself, addressed to this service.
    fn service(&self, token: &str, service: &str, key: &jsonwebtoken::DecodingKey) -> Result<Principal, AuthError> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[service]);
        validation.set_audience(&[&self.me]);
        validation.sub = Some(service.to_owned());
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<ServiceClaims>(token, key, &validation).map_err(invalid)?;
        Ok(Principal::Service(service.to_owned()))
    }
}

fn invalid(error: jsonwebtoken::errors::Error) -> AuthError {
    AuthError::Invalid(error.to_string())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::jwk::{Jwk, JwkSet, ThumbprintHash};
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    use super::*;
    use crate::auth::ServiceIdentity;

    /// A verifier for `me` that knows the services `order` and
    /// `notification`, and the user service's key.
    struct Setup {
        verifier: Verifier,
        order: ServiceIdentity,
        notification_key: EncodingKey,
        user_key: EncodingKey,
    }

    fn setup(me: &str) -> Setup {
        let (order_pem, notification_pem) = (testkit::keys::ed25519_pem(), testkit::keys::ed25519_pem());
        let order = ServiceIdentity::from_pem("order", order_pem.as_bytes()).unwrap();
        let notification = ServiceIdentity::from_pem("notification", notification_pem.as_bytes()).unwrap();
        let services = json!({ "order": [order.public_jwk()], "notification": [notification.public_jwk()] });
        let services = ServiceKeys::parse(&services.to_string()).unwrap();
        let user_key = EncodingKey::from_ed_pem(testkit::keys::ed25519_pem().as_bytes()).unwrap();
        let users = UserKeys::fixed(JwkSet { keys: vec![kid_jwk(&user_key)] });
        Setup {
            verifier: Verifier::new(me, users, services, "switchyard-user", "switchyard"),
            order,
            notification_key: EncodingKey::from_ed_pem(notification_pem.as_bytes()).unwrap(),
            user_key,
        }
    }

    fn kid_jwk(key: &EncodingKey) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(key, Algorithm::EdDSA).unwrap();
        jwk.common.key_id = Some(jwk.thumbprint(ThumbprintHash::SHA256).unwrap());
        jwk
    }

    fn sign(key: &EncodingKey, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = kid_jwk(key).common.key_id;
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[tokio::test]
    async fn a_service_token_names_its_signer_at_the_service_it_was_made_for() {
        let s = setup("inventory");
        let token = s.order.token_for("inventory");
        assert_eq!(s.verifier.verify(Some(&bearer(&token))).await, Ok(Principal::Service("order".into())));
        assert_eq!(s.order.token_for("inventory"), token, "reused from the cache");
    }

    #[tokio::test]
    async fn a_token_for_another_service_or_from_an_unlisted_key_is_refused() {
        let s = setup("inventory");
        let for_user_service = s.order.token_for("user");
        assert!(matches!(s.verifier.verify(Some(&bearer(&for_user_service))).await, Err(AuthError::Invalid(_))));
        let impostor = ServiceIdentity::from_pem("order", testkit::keys::ed25519_pem().as_bytes()).unwrap();
        let unlisted = impostor.token_for("inventory");
        assert!(matches!(s.verifier.verify(Some(&bearer(&unlisted))).await, Err(AuthError::Invalid(_))));
    }

    #[tokio::test]
    async fn a_key_vouches_only_for_its_owner() {
        let s = setup("inventory");
        let now = jsonwebtoken::get_current_timestamp();
        let claims = json!({ "iss": "order", "sub": "order", "aud": "inventory", "iat": now, "exp": now + 60 });
        let forged = sign(&s.notification_key, &claims);
        assert!(matches!(s.verifier.verify(Some(&bearer(&forged))).await, Err(AuthError::Invalid(_))));
    }

    #[tokio::test]
    async fn a_user_token_gives_the_user_and_its_roles() {
        let s = setup("order");
        let id = Uuid::now_v7();
        let now = jsonwebtoken::get_current_timestamp();
        let claims = json!({ "sub": id.to_string(), "roles": ["customer"], "iss": "switchyard-user",
                             "aud": "switchyard", "exp": now + 60 });
        let principal = s.verifier.verify(Some(&bearer(&sign(&s.user_key, &claims)))).await.unwrap();
        assert_eq!(principal, Principal::User(Caller { user_id: id, roles: vec!["customer".into()] }));
    }

    #[tokio::test]
    async fn expired_foreign_oversized_malformed_and_missing_tokens_are_refused() {
        let s = setup("order");
        let now = jsonwebtoken::get_current_timestamp();
        let good = json!({ "sub": Uuid::now_v7().to_string(), "iss": "switchyard-user", "aud": "switchyard",
                           "exp": now + 60 });
        let tweak = |key: &str, value: Value| {
            let mut claims = good.clone();
            claims[key] = value;
            sign(&s.user_key, &claims)
        };
        for (case, token) in [
            ("expired", tweak("exp", json!(now - 3600))),
            ("another audience", tweak("aud", json!("elsewhere"))),
            ("another issuer", tweak("iss", json!("elsewhere"))),
            ("a subject that is no user id", tweak("sub", json!("admin"))),
            ("oversized", tweak("pad", json!("x".repeat(MAX_TOKEN_BYTES)))),
            ("malformed", "not.a.token".into()),
        ] {
            assert!(matches!(s.verifier.verify(Some(&bearer(&token))).await, Err(AuthError::Invalid(_))), "{case}");
        }
        assert_eq!(s.verifier.verify(None).await, Err(AuthError::Missing));
        assert_eq!(s.verifier.verify(Some("Basic dXNlcjpwYXNz")).await, Err(AuthError::Missing));
    }
}
