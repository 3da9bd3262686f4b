//! What every handler shares.

use sqlx::PgPool;

use crate::tokens::TokenIssuer;

pub struct AppState {
    pub db: PgPool,
    pub(crate) tokens: TokenIssuer,
}
