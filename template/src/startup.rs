//! Builds the service inside the skeleton `comms::service` provides. Tests
//! build exactly this, on port 0.

use std::sync::Arc;

use comms::service::{Application, Builder, Parts};

use crate::config::Settings;
use crate::consumer; // new-service: consumes
use crate::grpc; // new-service: grpc
use crate::state::AppState;
use crate::{SERVICE, http};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn build(settings: &Settings) -> anyhow::Result<Application<AppState>> {
    Builder::new(&settings.service, &SERVICE)
        .build(|ctx| async move {
            ctx.consume(consumer::router()).await?; // new-service: consumes
            let state = Arc::new(AppState { db: ctx.db().clone() });
            let services = grpc::services(state.clone()); // new-service: grpc
            let parts = Parts::new(state, http::api());
            let parts = parts.grpc(services); // new-service: grpc
            Ok(parts)
        })
        .await
}
