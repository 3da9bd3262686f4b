//! The items resource. The gateway has already authenticated the caller;
//! an item is always created for the caller, and read by its owner or an
//! admin.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use comms::http::responses::{BodyRefused, InvalidInput, NotFound, SignInRequired};
use comms::http::{ApiJson, Caller};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{Item, ItemName};
use crate::error::TemplateError;
use crate::items::{self, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(create_item)).routes(routes!(get_item))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateItemRequest {
    /// At most 100 characters, not blank, no control characters (stored trimmed).
    #[schema(
        example = "First item",
        min_length = 1,
        max_length = 100,
        pattern = r"^\s*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
}

/// Create an item owned by the caller.
#[utoipa::path(post, path = "/template/items", tag = "items", request_body = CreateItemRequest,
    responses(
        (status = 201, description = "Created", body = Item,
            headers(("Location" = String, description = "The new item's URL"))),
        BodyRefused, SignInRequired, InvalidInput,
    ))]
#[tracing::instrument(skip_all)]
async fn create_item(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateItemRequest>,
) -> Result<impl IntoResponse, TemplateError> {
    let name = ItemName::parse(&body.name).map_err(|reason| TemplateError::invalid("name", &reason))?;
    let item = items::create(&state, caller.user_id, &name).await?;
    let location = format!("/template/items/{}", item.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(item)))
}

/// One item (its owner or an admin; anyone else gets 404).
#[utoipa::path(get, path = "/template/items/{id}", tag = "items", params(("id" = Uuid, Path, description = "Item id")),
    responses(
        (status = 200, body = Item),
        SignInRequired, NotFound, InvalidInput,
    ))]
#[tracing::instrument(skip_all, fields(item_id = %id))]
async fn get_item(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Item>, TemplateError> {
    let id = parse_id(&id)?;
    Ok(Json(items::get_for(&state, &caller, id).await?))
}
