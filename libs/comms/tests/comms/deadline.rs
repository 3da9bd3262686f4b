//! gRPC deadlines: the server sees a `grpc-timeout` no larger than the time
//! the caller has left.

use std::time::Duration;

use comms::client::UpstreamConfig;
use comms::client::grpc::GrpcChannel;
use comms::resilience::deadline;
use contracts::user::v1 as pb;
use contracts::user::v1::user_service_client::UserServiceClient;
use contracts::user::v1::user_service_server::{UserService, UserServiceServer};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// Answers GetUser with the `grpc-timeout` it received, in the name field.
struct EchoTimeout;

#[tonic::async_trait]
impl UserService for EchoTimeout {
    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Result<Response<pb::GetUserResponse>, Status> {
        let timeout = request.metadata().get("grpc-timeout").and_then(|v| v.to_str().ok()).unwrap_or("none").to_owned();
        Ok(Response::new(pb::GetUserResponse { user: Some(pb::User { name: timeout, ..pb::User::default() }) }))
    }
    /// Hangs far longer than any caller waits.
    async fn create_user(&self, _: Request<pb::CreateUserRequest>) -> Result<Response<pb::CreateUserResponse>, Status> {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Err(Status::unimplemented("not in this test"))
    }
    type ListUsersStream = ReceiverStream<Result<pb::User, Status>>;
    async fn list_users(&self, _: Request<pb::ListUsersRequest>) -> Result<Response<Self::ListUsersStream>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn update_users(
        &self,
        _: Request<Streaming<pb::UpdateUserRequest>>,
    ) -> Result<Response<pb::UpdateUsersResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
}

async fn start_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(UserServiceServer::new(EchoTimeout))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

async fn seen_timeout(client: &mut UserServiceClient<GrpcChannel>, request: Request<pb::GetUserRequest>) -> Duration {
    let user = client.get_user(request).await.unwrap().into_inner().user.unwrap();
    deadline::parse_grpc_timeout(&user.name).unwrap_or_else(|| panic!("no grpc-timeout sent: {}", user.name))
}

#[tokio::test]
async fn the_server_sees_no_more_than_the_callers_remaining_time() {
    let addr = start_server().await;
    let mut config = UpstreamConfig::new("deadline-echo");
    config.total_timeout = Duration::from_secs(5);
    let mut client = UserServiceClient::new(GrpcChannel::for_address(config, &addr));

    // The caller is handling a request that has one second left; it spends
    // 300 ms before calling.
    let started = tokio::time::Instant::now();
    let seen = deadline::scope(started + Duration::from_secs(1), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        seen_timeout(&mut client, Request::new(pb::GetUserRequest::default())).await
    })
    .await;
    assert!(seen <= Duration::from_millis(700), "server saw {seen:?}");
    assert!(seen > Duration::from_millis(400), "and not much less: {seen:?}");

    // Without a surrounding deadline, the configured total applies...
    let seen = seen_timeout(&mut client, Request::new(pb::GetUserRequest::default())).await;
    assert!(seen <= Duration::from_secs(5) && seen > Duration::from_secs(4), "{seen:?}");

    // ...and a shorter timeout set on the request wins.
    let mut request = Request::new(pb::GetUserRequest::default());
    request.set_timeout(Duration::from_millis(250));
    assert!(seen_timeout(&mut client, request).await <= Duration::from_millis(250));
}

#[tokio::test]
async fn a_call_past_its_deadline_fails_with_deadline_exceeded() {
    let addr = start_server().await;
    let mut config = UpstreamConfig::new("deadline-hang");
    config.total_timeout = Duration::from_millis(300);
    let mut client = UserServiceClient::new(GrpcChannel::for_address(config, &addr));
    let started = tokio::time::Instant::now();
    let status = client.create_user(pb::CreateUserRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status}");
    assert!(started.elapsed() < Duration::from_secs(5), "it did not wait for the handler");
}
