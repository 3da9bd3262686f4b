//! Who is calling, checked by every service on every request.
//!
//! Nothing on the network is trusted: not the address a request comes
//! from, not a header that names a user. Every call carries an Ed25519
//! signed JWT, of one of two kinds:
//!
//! - **a user's**: the token the user service issued at login, which the
//!   gateway forwards. It is verified with the user service's published
//!   key set ([`UserKeys`]), with the gateway's checks: algorithm, key id,
//!   issuer, audience, expiry.
//! - **a service's**: a token the calling service signs with its own key
//!   ([`ServiceIdentity`]), naming itself as issuer and subject and the one
//!   service it calls as audience, valid for five minutes. It is verified
//!   with the installation's public service keys ([`ServiceKeys`]); a key
//!   vouches only for the service that owns it, so no service can pass as
//!   another, and a token for one service is refused by every other.
//!
//! The [`Verifier`] turns either into a [`Principal`]; the service's
//! [`AccessTable`] says which principals may call each operation, and
//! refuses every operation it does not list.

mod access;
mod grpc_guard;
mod guard;
mod http_guard;
mod identity;
mod principal;
mod refusal;
mod reload;
mod service_keys;
mod settings;
mod user_keys;
mod verifier;

pub use access::{AccessTable, Allow, Decision};
pub use grpc_guard::GrpcGuardLayer;
pub use guard::{Guard, Refusal};
pub use http_guard::authenticate;
pub use identity::ServiceIdentity;
pub use principal::Principal;
pub use reload::reload_credentials;
pub use service_keys::ServiceKeys;
pub use settings::AuthSettings;
pub use user_keys::{FetchKeys, KeyRefresh, UserKeys};
pub use verifier::{AuthError, Verifier};

/// How long a service token is valid. Short: a token that leaks is soon
/// worthless, and signing a new one costs microseconds.
pub const SERVICE_TOKEN_SECS: u64 = 300;

/// Tokens longer than this are refused unread: a user token is a few
/// hundred bytes, and decoding is not free.
pub const MAX_TOKEN_BYTES: usize = 4096;
