//! The items table. Functions take a connection, so the caller decides the
//! transaction.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{Item, ItemName};

#[tracing::instrument(skip_all, fields(%owner_id))]
pub async fn insert_item(conn: &mut PgConnection, owner_id: Uuid, name: &ItemName) -> sqlx::Result<Item> {
    sqlx::query_as::<_, Item>(
        "INSERT INTO items (id, owner_id, name) VALUES ($1, $2, $3) RETURNING id, name, owner_id, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(owner_id)
    .bind(name.as_str())
    .fetch_one(conn)
    .await
}

#[tracing::instrument(skip(conn))]
pub async fn find_item(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Item>> {
    sqlx::query_as::<_, Item>("SELECT id, name, owner_id, created_at FROM items WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}
