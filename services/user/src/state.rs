//! What every handler shares.

use sqlx::PgPool;

use crate::domain::Hashing;
use crate::login_throttle::LoginThrottle;
use crate::signing_keys::SigningKeys;

pub struct AppState {
    pub db: PgPool,
    pub(crate) tokens: SigningKeys,
    /// Bounded password-hash work, and its count of hashes run.
    pub passwords: Hashing,
    pub(crate) throttle: LoginThrottle,
}
