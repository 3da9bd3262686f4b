//! Who is calling, from the token the service verified itself
//! (`comms::auth`): handlers take a [`Caller`] (a signed-in user) or a
//! [`Principal`] (a user or a service). No header names a caller: whatever
//! `X-User-*` a request carries is never read.

use axum::extract::FromRequestParts;
use http::request::Parts;
use uuid::Uuid;

use super::problem::Problem;
use crate::auth::Principal;
use crate::error::ErrorKind;

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

/// The user the request's verified token names (`comms::auth` put it
/// there before the handler ran). A service calling gets 403: the
/// operation's table allowed it, but this handler acts for users only.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Principal>() {
            Some(Principal::User(caller)) => Ok(caller.clone()),
            Some(Principal::Service(name)) => Err(Problem::new(ErrorKind::Forbidden)
                .detail(format!("this operation acts for a signed-in user, not for the {name} service"))),
            None => Err(Problem::new(ErrorKind::Unauthenticated).detail("this operation needs a signed-in user")),
        }
    }
}

/// The verified caller, user or service, for a handler that serves both.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Problem::new(ErrorKind::Unauthenticated).detail("this operation needs a caller"))
    }
}
