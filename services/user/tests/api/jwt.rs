//! The access token: its exact header and claims, and that it verifies with
//! the published JWKS key and with no other.

use std::collections::BTreeSet;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::Value;

use crate::helpers::{PASSWORD, spawn_app};

async fn token_and_jwks(app: &crate::helpers::TestApp) -> (String, JwkSet) {
    app.new_user("token@example.com").await;
    let login: Value = app.login("token@example.com", PASSWORD).await.json().await.unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let jwks: JwkSet =
        app.api.http.get(app.api.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    (token, jwks)
}

fn validation() -> Validation {
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_issuer(&["switchyard-user"]);
    v.set_audience(&["switchyard"]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v
}

#[tokio::test]
async fn the_token_has_exactly_the_documented_header_and_claims() {
    let app = spawn_app().await;
    let (token, jwks) = token_and_jwks(&app).await;
    let user_id: String = sqlx::query_scalar("SELECT id::text FROM users").fetch_one(&app.db.pool).await.unwrap();

    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid, jwks.keys[0].common.key_id, "kid names the published key");

    let key = DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation()).unwrap().claims;
    let names: BTreeSet<&str> = claims.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["sub", "roles", "iss", "aud", "iat", "exp"]));
    assert_eq!(claims["sub"], user_id);
    assert_eq!(claims["roles"], serde_json::json!(["customer"]));
    assert_eq!(claims["iss"], "switchyard-user");
    assert_eq!(claims["aud"], "switchyard");
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 900);
}

#[tokio::test]
async fn the_token_verifies_with_the_jwks_key_and_with_no_other() {
    let app = spawn_app().await;
    let (token, jwks) = token_and_jwks(&app).await;

    let published = &jwks.keys[0];
    assert!(jwks.keys.len() == 1 && published.common.key_id.is_some());
    let as_json = serde_json::to_value(published).unwrap();
    assert_eq!((as_json["kty"].as_str(), as_json["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
    assert!(as_json.get("d").is_none(), "the private half is never published");
    jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(published).unwrap(), &validation()).unwrap();

    let other_pem = testkit::keys::ed25519_pem();
    let other =
        Jwk::from_encoding_key(&EncodingKey::from_ed_pem(other_pem.as_bytes()).unwrap(), Algorithm::EdDSA).unwrap();
    let error =
        jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(&other).unwrap(), &validation()).unwrap_err();
    assert_eq!(error.kind(), &jsonwebtoken::errors::ErrorKind::InvalidSignature);

    let mut tampered = token.clone();
    let payload_start = tampered.find('.').unwrap() + 1;
    tampered.replace_range(payload_start..payload_start + 1, "X");
    assert!(
        jsonwebtoken::decode::<Value>(&tampered, &DecodingKey::from_jwk(published).unwrap(), &validation()).is_err()
    );
}

#[tokio::test]
async fn during_a_rotation_the_key_set_holds_the_published_keys_and_tokens_name_the_signing_one() {
    let (db, mut settings) = crate::helpers::fresh_settings().await;
    // The previous key and the announced next one, published but not used.
    let dir = std::env::temp_dir().join(format!("rotation-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (previous, next) = (dir.join("previous.pem"), dir.join("next.pem"));
    std::fs::write(&previous, testkit::keys::ed25519_pem()).unwrap();
    std::fs::write(&next, testkit::keys::ed25519_pem()).unwrap();
    settings.own.jwt.published_key_files = Some(format!("{}, {}", previous.display(), next.display()));
    let app = crate::helpers::spawn_app_on(db, settings).await;

    let (token, jwks) = token_and_jwks(&app).await;
    std::fs::remove_dir_all(&dir).unwrap();
    let kids: BTreeSet<String> = jwks.keys.iter().map(|k| k.common.key_id.clone().unwrap()).collect();
    assert_eq!(kids.len(), 3, "current, previous and next");
    let signing = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    assert_eq!(jwks.keys[0].common.key_id.as_deref(), Some(signing.as_str()), "the current key comes first");
    for jwk in &jwks.keys[1..] {
        let other = jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation());
        assert!(other.is_err(), "only the current key signs");
    }
}
