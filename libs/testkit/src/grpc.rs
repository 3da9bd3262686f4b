//! What stock gRPC tooling asks a server first: which services it offers
//! (reflection) and whether each is serving (health).

use std::net::SocketAddr;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}")).expect("a valid uri").connect().await.expect("grpc connect")
}

/// Sends a bearer token on every call, as a service's client does.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    /// `Bearer <token>`, as the header's whole value.
    pub fn new(value: MetadataValue<Ascii>) -> Self {
        Self(value)
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A channel whose every call carries `token`.
pub type Authorized = InterceptedService<Channel, Bearer>;

pub async fn authorized(addr: SocketAddr, token: &str) -> Authorized {
    let value = format!("Bearer {token}").parse().expect("a token is a valid header value");
    InterceptedService::new(channel(addr).await, Bearer(value))
}

/// One reflection question, and its one answer.
pub async fn reflect(channel: Channel, question: MessageRequest) -> MessageResponse {
    let request = ServerReflectionRequest { host: String::new(), message_request: Some(question) };
    let mut replies = ServerReflectionClient::new(channel)
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let reply: ServerReflectionResponse = replies.message().await.expect("a reply").expect("one reply");
    reply.message_response.expect("an answer")
}

/// The fully qualified names of the services reflection lists.
pub async fn listed_services(channel: Channel) -> Vec<String> {
    match reflect(channel, MessageRequest::ListServices(String::new())).await {
        MessageResponse::ListServicesResponse(list) => list.service.into_iter().map(|s| s.name).collect(),
        other => panic!("expected a service list, got {other:?}"),
    }
}

/// What the standard health service says of `service` ("" for the server).
pub async fn health(channel: Channel, service: &str) -> ServingStatus {
    let answer = HealthClient::new(channel).check(HealthCheckRequest { service: service.into() }).await;
    answer.expect("health answers").into_inner().status()
}

/// That `status` is INVALID_ARGUMENT with the standard `BadRequest` detail
/// naming `field` first, as stock tooling shows it.
pub fn assert_invalid_field(status: &tonic::Status, field: &str) {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let violations = status.get_details_bad_request().expect("a BadRequest detail").field_violations;
    assert_eq!(violations.first().map(|v| v.field.as_str()), Some(field), "{status:?}");
}
