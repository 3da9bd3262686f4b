//! What every handler shares.

use sqlx::PgPool;

use crate::signing_keys::SigningKeys;

pub struct AppState {
    pub db: PgPool,
    pub(crate) tokens: SigningKeys,
}
