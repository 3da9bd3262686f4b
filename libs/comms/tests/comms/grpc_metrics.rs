//! gRPC server metrics count a call when it ends, under the status its
//! trailers carry: a stream that fails after its first message is not OK.

use std::time::Duration;

use comms::grpc::GrpcServices;
use contracts::user::v1 as pb;
use contracts::user::v1::user_service_client::UserServiceClient;
use contracts::user::v1::user_service_server::{UserService, UserServiceServer};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status, Streaming};

/// ListUsers by `limit`: 1 sends a user then fails with DATA_LOSS; 7 sends
/// a user then never ends; anything else sends two users and ends OK.
/// GetUser is always NOT_FOUND.
struct Scripted;

#[tonic::async_trait]
impl UserService for Scripted {
    async fn get_user(&self, _: Request<pb::GetUserRequest>) -> Result<Response<pb::GetUserResponse>, Status> {
        Err(Status::not_found("no such user"))
    }
    async fn create_user(&self, _: Request<pb::CreateUserRequest>) -> Result<Response<pb::CreateUserResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    type ListUsersStream = ReceiverStream<Result<pb::User, Status>>;
    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<Self::ListUsersStream>, Status> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let limit = request.get_ref().limit;
        tokio::spawn(async move {
            let _ = tx.send(Ok(pb::User::default())).await;
            match limit {
                1 => drop(tx.send(Err(Status::data_loss("the second page was lost"))).await),
                7 => tx.closed().await,
                _ => drop(tx.send(Ok(pb::User::default())).await),
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
    async fn update_users(
        &self,
        _: Request<Streaming<pb::UpdateUserRequest>>,
    ) -> Result<Response<pb::UpdateUsersResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
}

/// The count of ended calls of `method` with `code`, as /metrics shows it.
fn ended(method: &str, code: Code) -> f64 {
    let path = format!("method=\"/user.v1.UserService/{method}\"");
    let code = format!("code=\"{}\"", code as i32);
    comms::prometheus::install()
        .render()
        .lines()
        .filter(|l| l.starts_with("grpc_server_requests_total{") && l.contains(&path) && l.contains(&code))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until `method` has `want` ended calls with `code`: a call ends on
/// the server a moment after the client has seen it end.
async fn until_ended(method: &str, code: Code, want: f64) -> f64 {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while ended(method, code) < want {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let _ = waited.await;
    ended(method, code)
}

#[tokio::test]
async fn a_stream_failing_after_its_first_message_counts_under_its_code_and_others_keep_theirs() {
    comms::prometheus::install();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = comms::Shutdown::new();
    let services = GrpcServices::new().add(UserServiceServer::new(Scripted), contracts::user::v1::FILE_DESCRIPTOR_SET);
    tokio::spawn(comms::grpc::serve(listener, services, Default::default(), shutdown.clone()));
    let mut client = UserServiceClient::connect(format!("http://{addr}")).await.unwrap();
    let before = |method, code| ended(method, code);
    let (failed, completed, not_found, cancelled) = (
        before("ListUsers", Code::DataLoss),
        before("ListUsers", Code::Ok),
        before("GetUser", Code::NotFound),
        before("ListUsers", Code::Cancelled),
    );

    let mut stream =
        client.list_users(pb::ListUsersRequest { limit: 1, ..Default::default() }).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some(), "the first message arrives");
    assert_eq!(stream.message().await.unwrap_err().code(), Code::DataLoss);
    assert_eq!(until_ended("ListUsers", Code::DataLoss, failed + 1.0).await, failed + 1.0);

    let mut stream =
        client.list_users(pb::ListUsersRequest { limit: 2, ..Default::default() }).await.unwrap().into_inner();
    while stream.message().await.unwrap().is_some() {}
    assert_eq!(until_ended("ListUsers", Code::Ok, completed + 1.0).await, completed + 1.0);

    assert_eq!(client.get_user(pb::GetUserRequest::default()).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(until_ended("GetUser", Code::NotFound, not_found + 1.0).await, not_found + 1.0);

    // A client that goes away mid-stream.
    let mut stream =
        client.list_users(pb::ListUsersRequest { limit: 7, ..Default::default() }).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some());
    drop(stream);
    assert_eq!(until_ended("ListUsers", Code::Cancelled, cancelled + 1.0).await, cancelled + 1.0);

    assert_eq!(ended("ListUsers", Code::DataLoss), failed + 1.0, "the failed stream was never counted as OK too");
    shutdown.trigger();
}
