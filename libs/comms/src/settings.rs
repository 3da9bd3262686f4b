//! Typed settings from environment variables (twelve-factor).
//!
//! Each service declares a struct with serde defaults and loads it with its
//! own prefix (`USER_`, `ORDER_`, ...), so one shell can hold the settings of
//! every service without collisions. A missing or malformed variable fails
//! start-up with the variable's name, not a panic deep inside the service.

use figment::Figment;
use figment::providers::Env;
use serde::de::DeserializeOwned;

/// Loads `T` from variables named `{prefix}{FIELD}` (case-insensitive).
/// Nested structs use `__`: `USER_JWT__ISSUER` sets `jwt.issuer`.
pub fn from_env<T: DeserializeOwned>(prefix: &str) -> Result<T, figment::Error> {
    Figment::new().merge(Env::prefixed(prefix).split("__")).extract()
}
