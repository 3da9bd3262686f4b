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

/// Answers GetUser with the `grpc-timeout` it received, in the name field;
/// for id "flaky", UNAVAILABLE twice first; for id "missing", NOT_FOUND.
#[derive(Default)]
struct EchoTimeout {
    flaky_calls: std::sync::atomic::AtomicUsize,
}

#[tonic::async_trait]
impl UserService for EchoTimeout {
    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Result<Response<pb::GetUserResponse>, Status> {
        if request.get_ref().id == "flaky" && self.flaky_calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            return Err(Status::unavailable("restarting"));
        }
        if request.get_ref().id == "missing" {
            return Err(Status::not_found("no such user"));
        }
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
            .add_service(UserServiceServer::new(EchoTimeout::default()))
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

#[tokio::test]
async fn idempotent_reads_are_retried_through_unavailable_and_nothing_else_is() {
    use comms::client::grpc::retry_idempotent;
    use comms::resilience::RetryConfig;

    let addr = start_server().await;
    let client = UserServiceClient::new(GrpcChannel::for_address(UpstreamConfig::new("retry-echo"), &addr));
    let config = RetryConfig { base_delay: Duration::from_millis(5), ..RetryConfig::default() };
    let flaky = pb::GetUserRequest { id: "flaky".into() };
    let user = retry_idempotent(&config, || {
        let mut client = client.clone();
        let request = flaky.clone();
        async move { client.get_user(request).await }
    })
    .await
    .expect("the third attempt succeeds");
    assert!(user.into_inner().user.is_some());

    // Other codes are answers, not outages: no retry.
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let status = retry_idempotent(&config, || {
        attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut client = client.clone();
        async move { client.get_user(pb::GetUserRequest { id: "missing".into() }).await }
    })
    .await
    .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 1);
}
