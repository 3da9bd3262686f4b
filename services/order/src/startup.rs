//! Builds the service: its consumers, its upstream clients and its APIs,
//! inside the skeleton `comms::service` provides. Tests build exactly this,
//! on port 0.

use std::sync::Arc;

use comms::grpc::GrpcServices;
use comms::service::{Application, Builder, Parts};
use contracts::order::v1::FILE_DESCRIPTOR_SET;
use contracts::order::v1::order_service_server::OrderServiceServer;

use crate::config::Settings;
use crate::grpc::OrderGrpc;
use crate::state::AppState;
use crate::upstream::Upstreams;
use crate::{SERVICE, consumers, expiry, http};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn build(settings: &Settings) -> anyhow::Result<Application<AppState>> {
    let own = &settings.own;
    own.saga.validate()?;
    Builder::new(&settings.service, &SERVICE)
        .build(|ctx| async move {
            // Subscribed before the listeners open, so inventory's answers
            // are routed to our queue from the first order on.
            ctx.consume(consumers::router()).await?;
            let upstreams = Upstreams::new(ctx.registry().as_ref(), ctx.identity(), own.upstream_timeout());
            let state = Arc::new(AppState { db: ctx.db().clone(), upstreams });
            ctx.spawn(expiry::run(ctx.db().clone(), own.saga.clone(), ctx.stopping()));
            let grpc = OrderServiceServer::new(OrderGrpc::new(state.clone()));
            Ok(Parts::new(state, http::api()).grpc(GrpcServices::new().add(grpc, FILE_DESCRIPTOR_SET)))
        })
        .await
}
