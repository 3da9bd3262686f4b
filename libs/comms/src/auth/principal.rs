//! The verified caller of a request.

use crate::http::caller::Caller;

/// Who a request is from, as its verified token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in user, through the gateway.
    User(Caller),
    /// Another service, by its name (`order`, `notification`, ...).
    Service(String),
}

impl Principal {
    /// The user, if a user is calling.
    pub fn user(&self) -> Option<&Caller> {
        match self {
            Self::User(caller) => Some(caller),
            Self::Service(_) => None,
        }
    }

    /// The service, if a service is calling.
    pub fn service(&self) -> Option<&str> {
        match self {
            Self::User(_) => None,
            Self::Service(name) => Some(name),
        }
    }
}
