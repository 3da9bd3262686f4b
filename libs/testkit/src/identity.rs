//! The caller a service is told about, as a test sends it: the identity the
//! gateway vouches for after checking a token, in the headers it uses.

use uuid::Uuid;

/// Who a request is from.
#[derive(Clone, Debug)]
pub struct As {
    pub id: Uuid,
    /// Comma-separated, as the gateway forwards them.
    pub roles: &'static str,
}

impl As {
    pub fn customer(id: Uuid) -> Self {
        Self { id, roles: "customer" }
    }

    pub fn admin() -> Self {
        Self { id: Uuid::now_v7(), roles: "customer,admin" }
    }
}

/// Sends a request as someone.
pub trait Identified {
    fn identified_as(self, who: &As) -> Self;
}

impl Identified for reqwest::RequestBuilder {
    fn identified_as(self, who: &As) -> Self {
        self.header("x-user-id", who.id.to_string()).header("x-user-roles", who.roles)
    }
}
