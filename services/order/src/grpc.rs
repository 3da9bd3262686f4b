//! The gRPC API for other services and tools: one order by id. Internal,
//! behind the gateway's back, so there is no caller to check.

use std::sync::Arc;

use contracts::order::v1 as pb;
use tonic::{Request, Response, Status};

use crate::domain::Order;
use crate::orders::{self, parse_id};
use crate::state::AppState;

pub struct OrderGrpc {
    state: Arc<AppState>,
}

impl OrderGrpc {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl pb::order_service_server::OrderService for OrderGrpc {
    #[tracing::instrument(skip_all)]
    async fn get_order(&self, request: Request<pb::GetOrderRequest>) -> Result<Response<pb::Order>, Status> {
        let id = parse_id(&request.get_ref().id)?;
        Ok(Response::new(to_proto(orders::get(&self.state, id).await?)))
    }
}

fn to_proto(order: Order) -> pb::Order {
    pb::Order {
        id: order.id.to_string(),
        customer_id: order.customer_id.to_string(),
        status: order.status.as_str().to_owned(),
        lines: order
            .lines
            .into_iter()
            .map(|l| pb::OrderLine { sku: l.sku, quantity: l.quantity, unit_price: l.unit_price })
            .collect(),
        total: order.total,
        reason: order.reason.unwrap_or_default(),
        created_at: Some(comms::grpc::timestamp(order.created_at)),
        updated_at: Some(comms::grpc::timestamp(order.updated_at)),
    }
}
