//! The catalogue over REST. Reading is public; every write needs the admin
//! role, which the gateway vouches for in `X-User-Roles`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use comms::http::responses::{BodyRefused, InvalidInput, QueryRefused, SignInRequired};
use comms::http::{ApiJson, ApiQuery, Caller, PageSize, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::catalog::{self, NewProduct, ProductChanges, parse_restock, parse_sku};
use crate::db::products;
use crate::domain::Product;
use crate::error::InventoryError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product))
        .routes(routes!(restock_product))
}

/// A product as clients see it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ProductView {
    #[schema(example = "SKU-KETTLE")]
    sku: String,
    #[schema(example = "Electric kettle")]
    name: String,
    /// Minor units (cents).
    #[schema(example = 3499)]
    price: i64,
    /// Units available to order.
    stock: i64,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Product> for ProductView {
    fn from(p: Product) -> Self {
        Self {
            sku: p.sku,
            name: p.name,
            price: p.price,
            stock: p.stock,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[ \t\n\r]*[A-Z0-9][A-Z0-9-]{0,31}[ \t\n\r]*$")]
    after: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProductPage {
    items: Vec<ProductView>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    /// `A-Z`, `0-9` and `-`, 1 to 32 characters, not starting with `-`.
    #[schema(example = "SKU-KETTLE", pattern = r"^[ \t\n\r]*[A-Z0-9][A-Z0-9-]{0,31}[ \t\n\r]*$")]
    sku: String,
    /// At most 200 characters, not blank, no control characters (stored trimmed).
    #[schema(
        example = "Electric kettle",
        min_length = 1,
        max_length = 200,
        pattern = r"^\s*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    /// Minor units (cents), 0 to 10,000,000,000.
    #[schema(example = 3499, minimum = 0, maximum = 10_000_000_000_i64)]
    price: i64,
    /// Units in stock to begin with, 0 to 1,000,000 (default 0).
    #[schema(example = 100, minimum = 0, maximum = 1_000_000)]
    stock: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    /// At most 200 characters, not blank, no control characters (stored trimmed).
    #[schema(min_length = 1, max_length = 200, pattern = r"^\s*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    name: Option<String>,
    /// Minor units (cents), 0 to 10,000,000,000.
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    price: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockRequest {
    /// Units to add, 1 to 1,000,000.
    #[schema(example = 24, minimum = 1, maximum = 1_000_000)]
    quantity: i64,
}

/// List products in sku order (public).
#[utoipa::path(get, path = "/products", tag = "products", params(ListParams),
    responses(
        (status = 200, body = ProductPage),
        (status = 422, description = "Invalid limit or cursor", body = Problem, content_type = "application/problem+json"),
        QueryRefused,
    ))]
#[tracing::instrument(skip_all)]
async fn list_products(
    State(state): State<Arc<AppState>>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ProductPage>, InventoryError> {
    let size = PageSize::parse(params.limit)?;
    let after = params
        .after
        .as_deref()
        .map(parse_sku)
        .transpose()
        .map_err(|_| InventoryError::invalid("after", "must be the next_cursor of a previous page (a sku)"))?;
    let rows = products::list(&state.db, after.as_ref().map(|s| s.as_str()), size.rows_to_fetch()).await?;
    let (items, next_cursor) = size.page(rows, |p| p.sku.clone());
    Ok(Json(ProductPage { items: items.into_iter().map(Into::into).collect(), next_cursor }))
}

/// Add a product to the catalogue (admin only).
#[utoipa::path(post, path = "/products", tag = "products", request_body = CreateProductRequest,
    responses(
        (status = 201, description = "Created", body = ProductView,
            headers(("Location" = String, description = "The new product's URL"))),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The sku exists", body = Problem, content_type = "application/problem+json"),
        BodyRefused, SignInRequired, InvalidInput,
    ))]
#[tracing::instrument(skip_all)]
async fn create_product(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateProductRequest>,
) -> Result<impl IntoResponse, InventoryError> {
    admin_only(&caller)?;
    let new = NewProduct::parse(&body.sku, &body.name, body.price, body.stock)?;
    let product = catalog::create(&state, new).await?;
    let location = format!("/products/{}", product.sku);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(ProductView::from(product))))
}

/// One product (public).
#[utoipa::path(get, path = "/products/{sku}", tag = "products",
    params(("sku" = String, Path, description = "The product's sku")),
    responses(
        (status = 200, body = ProductView),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a sku", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(sku = %sku))]
async fn get_product(
    State(state): State<Arc<AppState>>,
    Path(sku): Path<String>,
) -> Result<Json<ProductView>, InventoryError> {
    let sku = parse_sku(&sku)?;
    Ok(Json(catalog::get(&state, &sku).await?.into()))
}

/// Change a product's name or price (admin only).
#[utoipa::path(patch, path = "/products/{sku}", tag = "products", request_body = UpdateProductRequest,
    params(("sku" = String, Path, description = "The product's sku")),
    responses(
        (status = 200, body = ProductView),
        (status = 422, description = "Invalid field, or nothing to change", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        BodyRefused, SignInRequired,
    ))]
#[tracing::instrument(skip_all, fields(sku = %sku))]
async fn update_product(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(sku): Path<String>,
    ApiJson(body): ApiJson<UpdateProductRequest>,
) -> Result<Json<ProductView>, InventoryError> {
    admin_only(&caller)?;
    let sku = parse_sku(&sku)?;
    let changes = ProductChanges::parse(body.name.as_deref(), body.price)?;
    Ok(Json(catalog::update(&state, &sku, &changes).await?.into()))
}

/// Add stock to a product (admin only).
#[utoipa::path(post, path = "/products/{sku}/restock", tag = "products", request_body = RestockRequest,
    params(("sku" = String, Path, description = "The product's sku")),
    responses(
        (status = 200, description = "The product with its new stock", body = ProductView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid quantity or sku", body = Problem, content_type = "application/problem+json"),
        BodyRefused, SignInRequired,
    ))]
#[tracing::instrument(skip_all, fields(sku = %sku))]
async fn restock_product(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(sku): Path<String>,
    ApiJson(body): ApiJson<RestockRequest>,
) -> Result<Json<ProductView>, InventoryError> {
    admin_only(&caller)?;
    let (sku, quantity) = parse_restock(&sku, body.quantity)?;
    Ok(Json(catalog::restock(&state, &sku, quantity).await?.into()))
}

/// The catalogue is the shop's to change, not its customers'.
fn admin_only(caller: &Caller) -> Result<(), InventoryError> {
    if caller.is_admin() { Ok(()) } else { Err(InventoryError::Forbidden) }
}
