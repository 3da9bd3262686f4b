/// What a user may do. Everyone is a customer; `admin` is granted only by
/// configuration or seed data, never by anything a client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "customer" => Ok(Self::Customer),
            "admin" => Ok(Self::Admin),
            _ => Err("must be customer or admin".to_owned()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
        }
    }
}
