//! Reading and changing accounts. The gateway has already authenticated the
//! caller; here we decide whether this caller may touch this account.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use comms::auth::Principal;
use comms::http::responses::{BodyRefused, Forbidden, InvalidInput, NotFound, QueryRefused, SignInRequired};
use comms::http::{ApiJson, ApiQuery, Caller, PageParams, PageSize, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::accounts::{self, UserChanges, parse_id};
use crate::db;
use crate::domain::User;
use crate::error::UserError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(list_users)).routes(routes!(get_user, update_user, delete_user))
}

/// A user as clients see it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct UserView {
    id: Uuid,
    email: String,
    name: String,
    roles: Vec<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self { id: u.id, email: u.email, name: u.name, roles: u.roles, created_at: u.created_at }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    items: Vec<UserView>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[schema(min_length = 1, max_length = 100, pattern = r"^\s*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    name: Option<String>,
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
}

/// List users, oldest first (admin only).
#[utoipa::path(get, path = "/users", tag = "users", params(PageParams),
    responses(
        (status = 200, body = UserPage),
        QueryRefused, SignInRequired, Forbidden, InvalidInput,
    ))]
#[tracing::instrument(skip_all)]
async fn list_users(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<UserPage>, UserError> {
    if !caller.is_admin() {
        return Err(UserError::Forbidden);
    }
    let size = PageSize::parse(params.limit)?;
    let rows = db::list_users(&state.db, params.after, size.rows_to_fetch()).await?;
    let (users, next_cursor) = size.page(rows, |u| u.id);
    Ok(Json(UserPage { items: users.into_iter().map(Into::into).collect(), next_cursor }))
}

/// One user (the user themself or an admin).
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, body = UserView),
        SignInRequired, Forbidden, NotFound, InvalidInput,
    ))]
#[tracing::instrument(skip_all, fields(user_id = %id))]
async fn get_user(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<UserView>, UserError> {
    // A service gets here only if the access table lets it read accounts
    // (notification, for a recipient's address); a user, for their own.
    let id = match &principal {
        Principal::User(caller) => authorize(caller, &id)?,
        Principal::Service(_) => parse_id(&id)?,
    };
    Ok(Json(accounts::get(&state, id).await?.into()))
}

/// Change a user's name or email (the user themself or an admin).
#[utoipa::path(patch, path = "/users/{id}", tag = "users", request_body = UpdateUserRequest,
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, body = UserView),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        BodyRefused, SignInRequired, Forbidden, NotFound, InvalidInput,
    ))]
#[tracing::instrument(skip_all, fields(user_id = %id))]
async fn update_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<Json<UserView>, UserError> {
    let id = authorize(&caller, &id)?;
    let changes = UserChanges::parse(body.name.as_deref(), body.email.as_deref())?;
    Ok(Json(accounts::update(&state, id, &changes).await?.into()))
}

/// Delete a user (the user themself or an admin).
#[utoipa::path(delete, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        SignInRequired, Forbidden, NotFound, InvalidInput,
    ))]
#[tracing::instrument(skip_all, fields(user_id = %id))]
async fn delete_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, UserError> {
    let id = authorize(&caller, &id)?;
    accounts::delete(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Parses the path id and checks the caller may act on that account. A
/// customer asking for someone else's id gets 403, not 404: ids are
/// unguessable UUIDs, so there is nothing to hide about their existence.
fn authorize(caller: &Caller, raw_id: &str) -> Result<Uuid, UserError> {
    let id = parse_id(raw_id)?;
    if caller.may_act_for(id) { Ok(id) } else { Err(UserError::Forbidden) }
}
