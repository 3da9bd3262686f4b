//! The products table: the catalogue and its stock.

use sqlx::{PgConnection, PgExecutor};

use crate::domain::{InitialStock, Price, Product, ProductName, Quantity, Sku};

#[derive(sqlx::FromRow)]
struct ProductRow {
    sku: String,
    name: String,
    price: i64,
    stock: i64,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<ProductRow> for Product {
    fn from(r: ProductRow) -> Self {
        Self {
            sku: r.sku,
            name: r.name,
            price: r.price,
            stock: r.stock,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The new product, or `None` if the sku exists. ON CONFLICT answers the
/// race between two creations of one sku exactly, without aborting the
/// caller's transaction.
#[tracing::instrument(skip_all, fields(sku = sku.as_str()))]
pub async fn insert(
    conn: &mut PgConnection,
    sku: &Sku,
    name: &ProductName,
    price: Price,
    stock: InitialStock,
) -> sqlx::Result<Option<Product>> {
    sqlx::query_as::<_, ProductRow>(
        "INSERT INTO products (sku, name, price, stock) VALUES ($1, $2, $3, $4)
         ON CONFLICT (sku) DO NOTHING
         RETURNING sku, name, price, stock, created_at, updated_at",
    )
    .bind(sku.as_str())
    .bind(name.as_str())
    .bind(price.get())
    .bind(stock.get())
    .fetch_optional(conn)
    .await
    .map(|row| row.map(Into::into))
}

#[tracing::instrument(skip_all, fields(sku = sku.as_str()))]
pub async fn find(executor: impl PgExecutor<'_>, sku: &Sku) -> sqlx::Result<Option<Product>> {
    sqlx::query_as::<_, ProductRow>(
        "SELECT sku, name, price, stock, created_at, updated_at FROM products WHERE sku = $1",
    )
    .bind(sku.as_str())
    .fetch_optional(executor)
    .await
    .map(|row| row.map(Into::into))
}

/// The products among `skus` that exist, in sku order.
#[tracing::instrument(skip_all, fields(count = skus.len()))]
pub async fn find_many(executor: impl PgExecutor<'_>, skus: &[&str]) -> sqlx::Result<Vec<Product>> {
    sqlx::query_as::<_, ProductRow>(
        "SELECT sku, name, price, stock, created_at, updated_at FROM products WHERE sku = ANY($1) ORDER BY sku",
    )
    .bind(skus)
    .fetch_all(executor)
    .await
    .map(|rows| rows.into_iter().map(Into::into).collect())
}

/// One page in sku order, after `after` (keyset pagination: stable under
/// inserts, and as fast on the last page as on the first).
#[tracing::instrument(skip(executor))]
pub async fn list(executor: impl PgExecutor<'_>, after: Option<&str>, limit: i64) -> sqlx::Result<Vec<Product>> {
    sqlx::query_as::<_, ProductRow>(
        "SELECT sku, name, price, stock, created_at, updated_at FROM products
         WHERE $1::text IS NULL OR sku > $1 ORDER BY sku LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map(|rows| rows.into_iter().map(Into::into).collect())
}

/// The stock of `skus` (every product when `None`), in sku order.
#[tracing::instrument(skip_all)]
pub async fn stock_of(executor: impl PgExecutor<'_>, skus: Option<&[String]>) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as("SELECT sku, stock FROM products WHERE $1::text[] IS NULL OR sku = ANY($1) ORDER BY sku")
        .bind(skus)
        .fetch_all(executor)
        .await
}

#[tracing::instrument(skip_all, fields(sku = sku.as_str()))]
pub async fn update(
    conn: &mut PgConnection,
    sku: &Sku,
    name: Option<&ProductName>,
    price: Option<Price>,
) -> sqlx::Result<Option<Product>> {
    sqlx::query_as::<_, ProductRow>(
        "UPDATE products SET name = COALESCE($2, name), price = COALESCE($3, price), updated_at = now()
         WHERE sku = $1 RETURNING sku, name, price, stock, created_at, updated_at",
    )
    .bind(sku.as_str())
    .bind(name.map(ProductName::as_str))
    .bind(price.map(Price::get))
    .fetch_optional(conn)
    .await
    .map(|row| row.map(Into::into))
}

#[tracing::instrument(skip_all, fields(sku = sku.as_str(), quantity = quantity.get()))]
pub async fn restock(conn: &mut PgConnection, sku: &Sku, quantity: Quantity) -> sqlx::Result<Option<Product>> {
    sqlx::query_as::<_, ProductRow>(
        "UPDATE products SET stock = stock + $2, updated_at = now()
         WHERE sku = $1 RETURNING sku, name, price, stock, created_at, updated_at",
    )
    .bind(sku.as_str())
    .bind(quantity.get())
    .fetch_optional(conn)
    .await
    .map(|row| row.map(Into::into))
}

/// A product's stock, read under a row lock held until the caller's
/// transaction ends.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LockedStock {
    pub sku: String,
    pub name: String,
    pub stock: i64,
}

/// Locks the rows of `skus` that exist, in sku order, and reads their
/// stock. Every transaction that moves the stock of several products takes
/// its locks through here, so all take them in the same order and none can
/// deadlock another.
#[tracing::instrument(skip_all, fields(count = skus.len()))]
pub async fn lock_stock(conn: &mut PgConnection, skus: &[&str]) -> sqlx::Result<Vec<LockedStock>> {
    sqlx::query_as("SELECT sku, name, stock FROM products WHERE sku = ANY($1) ORDER BY sku FOR UPDATE")
        .bind(skus)
        .fetch_all(conn)
        .await
}

/// Adds `deltas[i]` to the stock of `skus[i]` (negative to take), returning
/// the new stock. Call with the rows locked by [`lock_stock`]; the schema's
/// CHECK refuses a negative result whatever the caller checked.
#[tracing::instrument(skip_all, fields(count = skus.len()))]
pub async fn move_stock(conn: &mut PgConnection, skus: &[&str], deltas: &[i64]) -> sqlx::Result<Vec<LockedStock>> {
    sqlx::query_as(
        "UPDATE products SET stock = products.stock + d.delta, updated_at = now()
         FROM unnest($1::text[], $2::bigint[]) AS d(sku, delta)
         WHERE products.sku = d.sku
         RETURNING products.sku, products.name, products.stock",
    )
    .bind(skus)
    .bind(deltas)
    .fetch_all(conn)
    .await
}
