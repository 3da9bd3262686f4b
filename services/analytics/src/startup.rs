//! Builds the service: its consumer, its live feed and its APIs, inside the
//! skeleton `comms::service` provides. Tests build exactly this, on port 0.

use std::sync::Arc;

use comms::grpc::GrpcServices;
use comms::service::{Application, Builder, Parts};
use contracts::analytics::v1::FILE_DESCRIPTOR_SET;
use contracts::analytics::v1::analytics_service_server::AnalyticsServiceServer;

use crate::config::Settings;
use crate::grpc::AnalyticsGrpc;
use crate::state::AppState;
use crate::{SERVICE, consumer, db, feed, http};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How many change notices a busy feed may queue; any number of them cause
/// one recomputation, so a small buffer loses nothing.
const CHANGES_BUFFER: usize = 16;

pub async fn build(settings: &Settings) -> anyhow::Result<Application<AppState>> {
    Builder::new(&settings.service, &SERVICE)
        .build(|ctx| async move {
            // The feed listens before the consumer starts, so it hears
            // about the very first event applied.
            let changes = ctx.change_feed(db::CHANGED_CHANNEL, CHANGES_BUFFER).await?;
            let (summaries, keep_current) = feed::start(ctx.db().clone(), &changes).await?;
            ctx.spawn(keep_current);
            ctx.consume(consumer::router()).await?;
            let state = Arc::new(AppState { db: ctx.db().clone() });
            let grpc = AnalyticsServiceServer::new(AnalyticsGrpc::new(summaries, ctx.streams().clone()));
            Ok(Parts::new(state, http::api()).grpc(GrpcServices::new().add(grpc, FILE_DESCRIPTOR_SET)))
        })
        .await
}
