//! Events the user service publishes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A new account exists. Carries what a welcome message needs, so the
/// notification service does not have to call back for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
}

crate::event!(UserRegistered, "user.registered", user_id);
