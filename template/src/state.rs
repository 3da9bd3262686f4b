//! What every handler shares.

use sqlx::PgPool;

pub struct AppState {
    pub db: PgPool,
}
