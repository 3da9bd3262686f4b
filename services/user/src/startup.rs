//! Builds the service: its token issuer, its seed admin and its APIs,
//! inside the skeleton `comms::service` provides. Tests build exactly this,
//! on port 0.

use std::sync::Arc;
use std::time::Duration;

use comms::auth::{FetchKeys, KeyRefresh, UserKeys};
use comms::grpc::GrpcServices;
use comms::service::{Application, Builder, Parts};
use contracts::user::v1::FILE_DESCRIPTOR_SET;
use contracts::user::v1::user_service_server::UserServiceServer;

use crate::config::Settings;
use crate::domain::Hashing;
use crate::grpc::UserGrpc;
use crate::login_throttle::{self, LoginThrottle};
use crate::signing_keys::SigningKeys;
use crate::state::AppState;
use crate::{SERVICE, accounts, http};

/// How often expired sign-in failures and unused addresses are deleted.
const PRUNE_SIGN_INS_EVERY: Duration = Duration::from_secs(3600);

/// It verifies the tokens it issues with the keys it holds, not by asking
/// itself over the network: a key id it does not know is looked up in its
/// current keys at once, and a retired key is dropped within `reload`.
fn own_keys(tokens: &SigningKeys, reload: Duration) -> UserKeys {
    let tokens = tokens.clone();
    let fetch: FetchKeys =
        Box::new(move || Box::pin(std::future::ready(vec![("own".into(), Ok(tokens.current().jwks().clone()))])));
    UserKeys::new(fetch, KeyRefresh { min_interval: Duration::ZERO, period: reload })
}

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn build(settings: &Settings) -> anyhow::Result<Application<AppState>> {
    let jwt = settings.own.jwt.clone();
    // Read before anything opens: a missing key is a configuration error.
    let tokens = SigningKeys::new(SigningKeys::load(&jwt)?);
    let seed_admin = settings.own.seed_admin.credentials()?;
    let reload = Duration::from_secs(jwt.reload_secs.max(1));
    let login = settings.own.login.clone();
    login.validate()?;
    let passwords = Hashing::new(settings.own.hashing.max_waiting).await?;
    Builder::new(&settings.service, &SERVICE)
        .user_keys(own_keys(&tokens, reload))
        .build(|ctx| async move {
            if jwt.from_files() {
                ctx.spawn(tokens.clone().reload(jwt, reload, ctx.stopping()));
            }
            let throttle = LoginThrottle::new(login);
            ctx.spawn(login_throttle::prune_periodically(
                throttle.clone(),
                ctx.db().clone(),
                PRUNE_SIGN_INS_EVERY,
                ctx.stopping(),
            ));
            let state = Arc::new(AppState { db: ctx.db().clone(), tokens, passwords, throttle });
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
