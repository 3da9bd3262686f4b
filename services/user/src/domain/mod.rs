//! The user domain: values parsed once at the edge and trusted afterwards.

mod email;
mod password;
mod role;
mod user_name;

pub use email::Email;
pub use password::{Busy, Hashing, Password, PasswordHash};
pub use role::Role;
pub use user_name::UserName;

use comms::error::FieldViolation;
use uuid::Uuid;

/// A user as the rest of the service sees it (never with the hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Parses one field, collecting its violation instead of stopping, so a
/// client learns about every bad field in one round trip.
pub fn field<T>(name: &str, parsed: Result<T, String>, violations: &mut Vec<FieldViolation>) -> Option<T> {
    parsed.map_err(|reason| violations.push(FieldViolation::new(name, reason))).ok()
}
