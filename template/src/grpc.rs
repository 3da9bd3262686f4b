//! The gRPC API, for other services and tools: one item by id. Internal,
//! behind the gateway's back, so there is no caller to check.

use std::sync::Arc;

use comms::grpc::GrpcServices;
use contracts::template::v1 as pb;
use contracts::template::v1::template_service_server::TemplateServiceServer;
use tonic::{Request, Response, Status};

use crate::domain::Item;
use crate::items::{self, parse_id};
use crate::state::AppState;

/// The service's gRPC services, with the descriptor set that lets
/// reflection describe them.
pub fn services(state: Arc<AppState>) -> GrpcServices {
    GrpcServices::new().add(TemplateServiceServer::new(TemplateGrpc { state }), pb::FILE_DESCRIPTOR_SET)
}

struct TemplateGrpc {
    state: Arc<AppState>,
}

#[tonic::async_trait]
impl pb::template_service_server::TemplateService for TemplateGrpc {
    #[tracing::instrument(skip_all)]
    async fn get_item(&self, request: Request<pb::GetItemRequest>) -> Result<Response<pb::Item>, Status> {
        let id = parse_id(&request.get_ref().id)?;
        Ok(Response::new(to_proto(items::get(&self.state, id).await?)))
    }
}

fn to_proto(item: Item) -> pb::Item {
    pb::Item {
        id: item.id.to_string(),
        name: item.name,
        owner_id: item.owner_id.to_string(),
        created_at: Some(comms::grpc::timestamp(item.created_at)),
    }
}
