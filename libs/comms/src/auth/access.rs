//! Which callers may call which operation: one table per service, deny by
//! default.
//!
//! An operation is named as its router knows it: `"GET /users/{id}"` for
//! REST (method and route template), `"/user.v1.UserService/GetUser"` for
//! gRPC (the full method path). An operation missing from the table is
//! refused to everyone, so a new route is closed until someone decides
//! who may call it.

use super::Principal;

/// Who may call one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allow {
    users: Users,
    services: &'static [&'static str],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Users {
    /// Anyone, with no token at all: what a client needs before it has
    /// one (the user service's key set).
    Open,
    /// No user: services only.
    No,
    /// Any signed-in user (the handler may still check ownership).
    Any,
    /// Users with at least one of these roles.
    WithRole(&'static [&'static str]),
}

impl Allow {
    /// Anyone, unauthenticated. For what must be public by its nature
    /// only, never for convenience.
    pub const fn open() -> Self {
        Self { users: Users::Open, services: &[] }
    }

    /// Only these services.
    pub const fn services(names: &'static [&'static str]) -> Self {
        Self { users: Users::No, services: names }
    }

    /// Any signed-in user.
    pub const fn users() -> Self {
        Self { users: Users::Any, services: &[] }
    }

    /// Users with one of these roles.
    pub const fn roles(roles: &'static [&'static str]) -> Self {
        Self { users: Users::WithRole(roles), services: &[] }
    }

    /// And these services too.
    pub const fn and_services(self, names: &'static [&'static str]) -> Self {
        Self { users: self.users, services: names }
    }

    /// The services it lets in.
    pub fn services_allowed(&self) -> &'static [&'static str] {
        self.services
    }

    /// Whether it lets users in: `None` not at all, `Some([])` any signed-in
    /// user, `Some(roles)` those with one of the roles.
    pub fn users_allowed(&self) -> Option<&'static [&'static str]> {
        match self.users {
            Users::No => None,
            Users::Open | Users::Any => Some(&[]),
            Users::WithRole(roles) => Some(roles),
        }
    }

    /// Whether no token is needed at all.
    pub fn is_open(&self) -> bool {
        self.users == Users::Open
    }

    pub fn permits(&self, principal: &Principal) -> bool {
        match principal {
            Principal::User(caller) => match self.users {
                Users::No => false,
                Users::Open | Users::Any => true,
                Users::WithRole(roles) => roles.iter().any(|role| caller.has_role(role)),
            },
            Principal::Service(name) => self.is_open() || self.services.contains(&name.as_str()),
        }
    }
}

/// What the table says about one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// The operation is listed, and this caller is not among those allowed.
    Denied,
    /// The operation is not in the table: refused to everyone.
    Unlisted,
}

/// A service's operations and who may call each.
#[derive(Debug)]
pub struct AccessTable {
    rules: &'static [(&'static str, Allow)],
}

impl AccessTable {
    pub const fn new(rules: &'static [(&'static str, Allow)]) -> Self {
        Self { rules }
    }

    /// Who may call `operation`, if the table lists it.
    pub fn allow(&self, operation: &str) -> Option<&Allow> {
        self.rules.iter().find(|(name, _)| *name == operation).map(|(_, allow)| allow)
    }

    pub fn decide(&self, operation: &str, principal: &Principal) -> Decision {
        match self.allow(operation) {
            Some(allow) if allow.permits(principal) => Decision::Allowed,
            Some(_) => Decision::Denied,
            None => Decision::Unlisted,
        }
    }

    /// Every operation the table lists, with who may call it.
    pub fn rules(&self) -> &'static [(&'static str, Allow)] {
        self.rules
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::http::caller::Caller;

    static TABLE: AccessTable = AccessTable::new(&[
        ("GET /users", Allow::roles(&["admin"])),
        ("GET /users/{id}", Allow::users().and_services(&["notification"])),
        ("/user.v1.UserService/GetUser", Allow::services(&["order"])),
    ]);

    fn user(roles: &[&str]) -> Principal {
        Principal::User(Caller { user_id: Uuid::nil(), roles: roles.iter().map(|r| (*r).to_owned()).collect() })
    }

    fn service(name: &str) -> Principal {
        Principal::Service(name.to_owned())
    }

    #[test]
    fn roles_users_and_services_are_allowed_only_where_listed() {
        assert_eq!(TABLE.decide("GET /users", &user(&["customer", "admin"])), Decision::Allowed);
        assert_eq!(TABLE.decide("GET /users", &user(&["customer"])), Decision::Denied);
        assert_eq!(TABLE.decide("GET /users", &service("notification")), Decision::Denied);
        assert_eq!(TABLE.decide("GET /users/{id}", &user(&["customer"])), Decision::Allowed);
        assert_eq!(TABLE.decide("GET /users/{id}", &service("notification")), Decision::Allowed);
        assert_eq!(TABLE.decide("GET /users/{id}", &service("order")), Decision::Denied);
        assert_eq!(TABLE.decide("/user.v1.UserService/GetUser", &service("order")), Decision::Allowed);
        assert_eq!(TABLE.decide("/user.v1.UserService/GetUser", &user(&["admin"])), Decision::Denied);
    }

    #[test]
    fn an_operation_missing_from_the_table_is_refused_to_everyone() {
        for principal in [user(&["admin"]), service("order"), service("gateway")] {
            assert_eq!(TABLE.decide("DELETE /users/{id}", &principal), Decision::Unlisted);
        }
    }
}
