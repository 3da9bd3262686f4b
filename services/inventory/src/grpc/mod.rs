//! The gRPC API for other services: `GetProducts` prices an order in one
//! round trip; `WatchStock` follows stock as it moves (see [`watch`]).

mod watch;

use std::collections::HashSet;
use std::sync::Arc;

use comms::Shutdown;
use comms::long_streams::OpenStreams;
use contracts::inventory::v1 as pb;
use futures::stream::BoxStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::catalog::{self, is_exact_sku};
use crate::domain::Product;
use crate::error::InventoryError;
use crate::state::AppState;
use crate::stock_feed;

/// The most skus one request may name.
const MAX_SKUS: usize = 100;

/// Changes that may wait between the watch task and the network. Small:
/// a slow reader should fall behind on the broadcast channel, where it is
/// noticed, rather than here.
const WATCH_BUFFER: usize = 16;

pub struct InventoryGrpc {
    state: Arc<AppState>,
    shutdown: Shutdown,
    streams: OpenStreams,
}

impl InventoryGrpc {
    pub fn new(state: Arc<AppState>, shutdown: Shutdown, streams: OpenStreams) -> Self {
        Self { state, shutdown, streams }
    }
}

#[tonic::async_trait]
impl pb::inventory_service_server::InventoryService for InventoryGrpc {
    #[tracing::instrument(skip_all, fields(count = request.get_ref().skus.len()))]
    async fn get_products(
        &self,
        request: Request<pb::GetProductsRequest>,
    ) -> Result<Response<pb::GetProductsResponse>, Status> {
        let skus = &request.get_ref().skus;
        if skus.is_empty() || skus.len() > MAX_SKUS {
            return Err(InventoryError::invalid("skus", "name 1 to 100 skus").into());
        }
        let (found, missing) = catalog::get_many(&self.state, skus).await?;
        Ok(Response::new(pb::GetProductsResponse { products: found.into_iter().map(to_proto).collect(), missing }))
    }

    type WatchStockStream = BoxStream<'static, Result<pb::StockChange, Status>>;

    #[tracing::instrument(skip_all, fields(count = request.get_ref().skus.len()))]
    async fn watch_stock(
        &self,
        request: Request<pb::WatchStockRequest>,
    ) -> Result<Response<Self::WatchStockStream>, Status> {
        // Endless: it counts against the caller's cap, and ends OK at its
        // lifetime (the client calls again).
        let slot = self.streams.open_for(&request)?;
        let skus = request.into_inner().skus;
        if skus.len() > MAX_SKUS {
            return Err(InventoryError::invalid("skus", "name at most 100 skus (or none to watch all)").into());
        }
        if let Some(bad) = skus.iter().find(|sku| !is_exact_sku(sku)) {
            return Err(InventoryError::invalid("skus", &format!("{bad:?} is not a sku")).into());
        }
        let watched = (!skus.is_empty()).then_some(skus);
        // Subscribe before reading the snapshot, so nothing committed in
        // between is lost; what the snapshot already holds is dropped.
        let changes = self.state.feed.subscribe();
        let (snapshot, seen) =
            stock_feed::snapshot(&self.state.db, watched.as_deref()).await.map_err(InventoryError::from)?;
        let (tx, rx) = tokio::sync::mpsc::channel(WATCH_BUFFER);
        let watched: Option<HashSet<String>> = watched.map(|skus| skus.into_iter().collect());
        let task = watch::forward(snapshot, seen, changes, watched, tx, self.shutdown.clone());
        tokio::spawn(task.in_current_span());
        Ok(Response::new(Box::pin(slot.bound(ReceiverStream::new(rx)))))
    }
}

fn to_proto(product: Product) -> pb::Product {
    pb::Product { sku: product.sku, name: product.name, price: product.price, stock: product.stock }
}
