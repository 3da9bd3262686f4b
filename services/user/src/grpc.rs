//! The gRPC API for other services: the same use cases as REST, plus two
//! streams that REST cannot express well (export and bulk update).

use std::sync::Arc;

use comms::error::{ErrorKind, Failure, FieldViolation, ServiceError};
use contracts::user::v1 as pb;
use contracts::user::v1::update_result::Outcome;
use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::accounts::{self, NewUser, UserChanges, parse_id};
use crate::db;
use crate::domain::{Role, User, field};
use crate::error::UserError;
use crate::state::AppState;

/// How many users may wait between the database and the network. Small:
/// it is the most a slow reader makes this process hold.
const LIST_BUFFER: usize = 64;

/// ListUsers' `contains`: as long as the longest email it could match.
const CONTAINS_MAX_CHARS: usize = 254;

pub struct UserGrpc {
    state: Arc<AppState>,
}

impl UserGrpc {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl pb::user_service_server::UserService for UserGrpc {
    #[tracing::instrument(skip_all)]
    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Result<Response<pb::GetUserResponse>, Status> {
        let id = parse_id(&request.get_ref().id)?;
        let user = accounts::get(&self.state, id).await?;
        Ok(Response::new(pb::GetUserResponse { user: Some(to_proto(user)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let body = request.into_inner();
        let new = NewUser::parse(&body.email, &body.name, &body.password)?;
        let user = accounts::register(&self.state, new).await?;
        Ok(Response::new(pb::CreateUserResponse { user: Some(to_proto(user)) }))
    }

    type ListUsersStream = ReceiverStream<Result<pb::User, Status>>;

    #[tracing::instrument(skip_all)]
    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<Self::ListUsersStream>, Status> {
        let filter = list_filter(request.into_inner())?;
        let (tx, rx) = tokio::sync::mpsc::channel(LIST_BUFFER);
        let pool = self.state.db.clone();
        // The bounded channel is the backpressure: when the client stops
        // reading, HTTP/2 flow control stops tonic, the channel fills, this
        // task stops pulling rows, and PostgreSQL waits on its socket.
        let task = async move {
            let mut rows = db::stream_users(&pool, filter);
            while let Some(row) = rows.next().await {
                let item = row.map(to_proto).map_err(|e| Status::from(UserError::from(e)));
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break; // the client went away, or we told it why we stopped
                }
            }
        };
        tokio::spawn(tracing::Instrument::in_current_span(task));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    #[tracing::instrument(skip_all)]
    async fn update_users(
        &self,
        request: Request<Streaming<pb::UpdateUserRequest>>,
    ) -> Result<Response<pb::UpdateUsersResponse>, Status> {
        let mut items = request.into_inner();
        let mut response = pb::UpdateUsersResponse::default();
        let mut index = 0u32;
        while let Some(item) = items.message().await? {
            let (outcome, reason) = match self.apply(&item).await {
                Ok(_) => (Outcome::Updated, String::new()),
                Err(UserError::NotFound) => (Outcome::NotFound, String::new()),
                // A failure of ours, not of the item: the whole call fails.
                Err(e) if matches!(e.kind(), ErrorKind::Internal | ErrorKind::Unavailable) => return Err(e.into()),
                Err(invalid) => (Outcome::Invalid, describe(&invalid)),
            };
            match outcome {
                Outcome::Updated => response.updated += 1,
                Outcome::NotFound => response.not_found += 1,
                _ => response.invalid += 1,
            }
            response.results.push(pb::UpdateResult { index, id: item.id, outcome: outcome.into(), reason });
            index += 1;
        }
        Ok(Response::new(response))
    }
}

impl UserGrpc {
    /// One bulk item, on its own: a bad item never affects the others.
    async fn apply(&self, item: &pb::UpdateUserRequest) -> Result<User, UserError> {
        let id = parse_id(&item.id)?;
        if item.name.is_none() && item.email.is_none() {
            return Err(UserError::invalid("name", "set name or email: there is nothing to update"));
        }
        let changes = UserChanges::parse(item.name.as_deref(), item.email.as_deref())?;
        accounts::update(&self.state, id, &changes).await
    }
}

/// The users a ListUsers request asks for, every field checked at once.
fn list_filter(request: pb::ListUsersRequest) -> Result<db::UserFilter, UserError> {
    let mut violations = Vec::new();
    let contains = match request.contains.as_str() {
        "" => None,
        text if text.chars().count() > CONTAINS_MAX_CHARS => {
            violations.push(FieldViolation::new("contains", "must be at most 254 characters"));
            None
        }
        text => Some(text.to_owned()),
    };
    let role = match request.role.as_str() {
        "" => None,
        raw => field("role", Role::parse(raw), &mut violations),
    };
    if !violations.is_empty() {
        return Err(UserError::from(violations));
    }
    Ok(db::UserFilter { limit: (request.limit > 0).then(|| i64::from(request.limit)), contains, role })
}

fn describe(error: &UserError) -> String {
    match error {
        UserError::Failed(Failure::Invalid(violations)) => {
            violations.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

fn to_proto(user: User) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        email: user.email,
        name: user.name,
        roles: user.roles,
        created_at: Some(comms::grpc::timestamp(user.created_at)),
    }
}
