//! The check every request passes before a handler runs, the same for REST
//! and gRPC: is the operation listed, who is calling, may they call it.

use super::{AccessTable, AuthError, Decision, Principal, Verifier};

/// Why a request was turned away.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No token, or one that does not verify: 401 / UNAUTHENTICATED.
    Unauthenticated(AuthError),
    /// A verified caller the table does not allow: 403 / PERMISSION_DENIED.
    Forbidden(String),
}

pub struct Guard {
    verifier: Verifier,
    table: &'static AccessTable,
}

impl Guard {
    pub fn new(verifier: Verifier, table: &'static AccessTable) -> Self {
        Self { verifier, table }
    }

    pub fn table(&self) -> &'static AccessTable {
        self.table
    }

    /// The caller of `operation`, if it may call it. `None` for an open
    /// operation, which needs no token.
    pub async fn admit(&self, operation: &str, authorization: Option<&str>) -> Result<Option<Principal>, Refusal> {
        if self.table.allow(operation).is_some_and(|allow| allow.is_open()) {
            return Ok(None);
        }
        // Who first, then what: an unknown caller learns nothing about
        // which operations exist.
        let principal = self.verifier.verify(authorization).await.map_err(Refusal::Unauthenticated)?;
        match self.table.decide(operation, &principal) {
            Decision::Allowed => Ok(Some(principal)),
            Decision::Denied => Err(Refusal::Forbidden(format!("{} may not call {operation}", describe(&principal)))),
            Decision::Unlisted => Err(Refusal::Forbidden(format!("{operation} is not open to any caller"))),
        }
    }
}

fn describe(principal: &Principal) -> String {
    match principal {
        Principal::User(caller) if caller.roles.is_empty() => "this user".to_owned(),
        Principal::User(caller) => format!("a user with the roles {}", caller.roles.join(", ")),
        Principal::Service(name) => format!("the {name} service"),
    }
}
