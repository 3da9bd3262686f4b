//! Builds the service: the stock feed, the consumers and the APIs, inside
//! the skeleton `comms::service` provides. Tests build exactly this, on
//! port 0, and may build two against one database to act as replicas.

use std::sync::Arc;

use comms::grpc::GrpcServices;
use comms::service::{Application, Builder, Parts};
use contracts::inventory::v1::FILE_DESCRIPTOR_SET;
use contracts::inventory::v1::inventory_service_server::InventoryServiceServer;

use crate::config::Settings;
use crate::grpc::InventoryGrpc;
use crate::state::AppState;
use crate::{SERVICE, consumers, http, seed, stock_feed};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn build(settings: &Settings) -> anyhow::Result<Application<AppState>> {
    let own = &settings.own;
    Builder::new(&settings.service, &SERVICE)
        .build(|ctx| async move {
            if own.seed_demo_products {
                seed::demo_products(ctx.db()).await?;
            }
            // The feed listens before anything can change stock, so a
            // watcher misses nothing committed after start-up.
            let feed = ctx.change_feed(stock_feed::CHANNEL, own.watch_buffer).await?;
            let state = Arc::new(AppState {
                db: ctx.db().clone(),
                feed,
                low_stock_threshold: i64::from(own.low_stock_threshold),
                events_handled: Default::default(),
            });
            ctx.consume(consumers::router(state.clone())).await?;
            // Watch streams end when the service stops, so the drain does
            // not wait the whole grace period for them.
            let grpc =
                InventoryServiceServer::new(InventoryGrpc::new(state.clone(), ctx.stopping(), ctx.streams().clone()));
            Ok(Parts::new(state, http::api()).grpc(GrpcServices::new().add(grpc, FILE_DESCRIPTOR_SET)))
        })
        .await
}
