//! What every handler shares.

use sqlx::PgPool;

use crate::upstream::Upstreams;

pub struct AppState {
    pub db: PgPool,
    pub(crate) upstreams: Upstreams,
}
