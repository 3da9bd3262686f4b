//! Who is calling, as the gateway vouches for it.
//!
//! The gateway verifies the JWT, strips any client-sent `X-User-*` headers
//! and sets `X-User-ID` and `X-User-Roles` from the token's claims. Services
//! sit behind it on a private network and trust these headers instead of
//! verifying the token again.

use axum::extract::FromRequestParts;
use http::request::Parts;
use uuid::Uuid;

use super::problem::Problem;
use crate::error::ErrorKind;

pub const USER_ID_HEADER: &str = "x-user-id";
pub const USER_ROLES_HEADER: &str = "x-user-roles";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub roles: Vec<String>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.has_role("admin")
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The owner of a resource, or an admin, may act on it.
    pub fn may_act_for(&self, owner: Uuid) -> bool {
        self.user_id == owner || self.is_admin()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let user_id = parts
            .headers
            .get(USER_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Uuid::parse_str(v).ok())
            .ok_or_else(|| Problem::new(ErrorKind::Unauthenticated).detail("this operation needs a signed-in user"))?;
        let roles = parts
            .headers
            .get(USER_ROLES_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect())
            .unwrap_or_default();
        Ok(Self { user_id, roles })
    }
}
