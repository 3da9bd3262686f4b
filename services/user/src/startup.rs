//! Builds the service: its token issuer, its seed admin and its APIs,
//! inside the skeleton `comms::service` provides. Tests build exactly this,
//! on port 0.

use std::sync::Arc;

use comms::auth::UserKeys;
use comms::grpc::GrpcServices;
use comms::service::{Application, Builder, Parts};
use contracts::user::v1::FILE_DESCRIPTOR_SET;
use contracts::user::v1::user_service_server::UserServiceServer;

use crate::config::Settings;
use crate::grpc::UserGrpc;
use crate::state::AppState;
use crate::tokens::TokenIssuer;
use crate::{SERVICE, accounts, http};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn build(settings: &Settings) -> anyhow::Result<Application<AppState>> {
    let jwt = &settings.own.jwt;
    // Read before anything opens: a missing key is a configuration error.
    let tokens = TokenIssuer::rotating(
        &jwt.private_key_pem()?,
        &jwt.published_key_pems()?,
        jwt.issuer.clone(),
        jwt.audience.clone(),
        jwt.ttl_secs,
    )?;
    let seed_admin = settings.own.seed_admin.credentials()?;
    // It verifies the tokens it issues with the keys it holds, not by
    // asking itself over the network.
    let own_keys = UserKeys::fixed(tokens.jwks().clone());
    Builder::new(&settings.service, &SERVICE)
        .user_keys(own_keys)
        .build(|ctx| async move {
            let state = Arc::new(AppState { db: ctx.db().clone(), tokens });
            if let Some((email, password)) = &seed_admin {
                accounts::ensure_admin(&state, email, password)
                    .await
                    .map_err(|e| anyhow::anyhow!("seed admin: {e}"))?;
            }
            let grpc = UserServiceServer::new(UserGrpc::new(state.clone()));
            Ok(Parts::new(state, http::api()).grpc(GrpcServices::new().add(grpc, FILE_DESCRIPTOR_SET)))
        })
        .await
}
