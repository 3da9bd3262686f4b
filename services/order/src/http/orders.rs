//! The orders resource. The gateway has already authenticated the caller;
//! orders are always placed for the caller, and read or cancelled by their
//! customer or an admin.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use comms::http::responses::{InvalidInput, NotFound, QueryRefused, SignInRequired};
use comms::http::{ApiJson, ApiQuery, Caller, PageParams, PageSize, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::idempotent::{self, KeyHeader};
use crate::domain::{Order, OrderRequest};
use crate::error::OrderError;
use crate::orders::{self, parse_id};
use crate::placing;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(list_orders, place_order))
        .routes(routes!(get_order))
        .routes(routes!(cancel_order))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    /// One line per sku (a sku sent twice is refused).
    #[schema(min_items = 1, max_items = 50)]
    lines: Vec<LineRequest>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]+$")]
    sku: String,
    #[schema(minimum = 1, maximum = 1000)]
    quantity: i64,
}

#[derive(Serialize, ToSchema)]
pub struct OrderPage {
    items: Vec<Order>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<Uuid>,
}

/// Place an order for the caller, priced by inventory (PENDING until
/// inventory reserves the stock). Safe to retry: a request repeating an
/// earlier one's `Idempotency-Key` and body gets the first answer again,
/// marked `Idempotency-Replayed: true`, and places nothing new.
#[utoipa::path(post, path = "/orders", tag = "orders", request_body = PlaceOrderRequest,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = r"^[\x21-\x7e]+$",
        description = "A unique value per order (a UUID), sent again only to retry the same request")),
    responses(
        (status = 201, body = Order, description = "Placed (or the replay of an earlier placement)",
            headers(("Location" = String, description = "The order's URL"),
                ("Idempotency-Replayed" = bool, description = "`true` when this repeats an earlier answer"))),
        (status = 400, body = Problem, content_type = "application/problem+json",
            description = "Missing or malformed Idempotency-Key, or malformed JSON"),
        (status = 403, body = Problem, content_type = "application/problem+json",
            description = "The caller's account does not exist"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "Invalid lines, unknown skus, or an Idempotency-Key already used with another body"),
        (status = 503, body = Problem, content_type = "application/problem+json",
            description = "User or inventory is unavailable (Retry-After when known)"),
        (status = 504, body = Problem, content_type = "application/problem+json",
            description = "User or inventory did not answer in time"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json"),
        SignInRequired,
    ))]
#[tracing::instrument(skip_all)]
async fn place_order(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    KeyHeader(key): KeyHeader,
    ApiJson(body): ApiJson<PlaceOrderRequest>,
) -> Result<Response, OrderError> {
    let request = OrderRequest::parse(body.lines.iter().map(|l| (l.sku.as_str(), l.quantity)))?;
    let placed = placing::place_order(&state, caller.user_id, &key, &request).await?;
    Ok(idempotent::respond(placed))
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/orders", tag = "orders", params(PageParams),
    responses(
        (status = 200, body = OrderPage),
        QueryRefused, SignInRequired, InvalidInput,
    ))]
#[tracing::instrument(skip_all)]
async fn list_orders(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<OrderPage>, OrderError> {
    let size = PageSize::parse(params.limit)?;
    let rows = orders::list_mine(&state, &caller, params.after, size.rows_to_fetch()).await?;
    let (items, next_cursor) = size.page(rows, |o| o.id);
    Ok(Json(OrderPage { items, next_cursor }))
}

/// One order (its customer or an admin; anyone else gets 404).
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, body = Order),
        SignInRequired, NotFound, InvalidInput,
    ))]
#[tracing::instrument(skip_all, fields(order_id = %id))]
async fn get_order(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Order>, OrderError> {
    let id = parse_id(&id)?;
    Ok(Json(orders::get_for(&state, &caller, id).await?))
}

/// Cancel a PENDING or CONFIRMED order (its customer or an admin); a
/// confirmed order's stock is released. REJECTED and CANCELLED orders
/// cannot be cancelled (409).
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders",
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, body = Order, description = "Cancelled"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        SignInRequired, NotFound, InvalidInput,
    ))]
#[tracing::instrument(skip_all, fields(order_id = %id))]
async fn cancel_order(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Order>, OrderError> {
    let id = parse_id(&id)?;
    Ok(Json(orders::cancel(&state, &caller, id).await?))
}
