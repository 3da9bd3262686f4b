//! Problem responses for `#[utoipa::path(responses(...))]`, in sets named
//! after what refuses a request. An operation lists the sets its extractors
//! and checks can answer with, next to its own responses, instead of
//! spelling out the same problem+json lines in every service:
//!
//! ```ignore
//! #[utoipa::path(post, path = "/orders", responses(
//!     (status = 201, body = Order),
//!     BodyRefused, InvalidInput, SignInRequired,
//! ))]
//! ```
//!
//! A status an operation describes more tellingly ("the sku exists") stays
//! its own tuple, and no set naming that status goes beside it.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use super::problem::CONTENT_TYPE;

/// One problem+json response, its body the `Problem` schema that
/// [`api`](super::api) registers.
fn problem(description: &str) -> RefOr<Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    ResponseBuilder::new().description(description).content(CONTENT_TYPE, content).build().into()
}

macro_rules! problem_set {
    ($(#[$doc:meta])* $name:ident { $($status:literal: $description:literal),+ $(,)? }) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                [$(($status.to_owned(), problem($description))),+].into_iter().collect()
            }
        }
    };
}

problem_set!(
    /// What [`ApiJson`](super::ApiJson) refuses before reading a field: a
    /// body that is not JSON, too large, or sent as another media type.
    BodyRefused {
        "400": "Malformed JSON",
        "413": "Body too large",
        "415": "Body is not JSON",
    }
);

problem_set!(
    /// What [`ApiQuery`](super::ApiQuery) refuses: a query string that does
    /// not parse.
    QueryRefused {
        "400": "Malformed query",
    }
);

problem_set!(
    /// A field, parameter or path segment that parses but is not valid; the
    /// problem's `errors` name each one.
    InvalidInput {
        "422": "Invalid field",
    }
);

problem_set!(
    /// What [`Caller`](super::Caller) refuses: a request with no signed-in
    /// user behind it.
    SignInRequired {
        "401": "No signed-in user",
    }
);

problem_set!(
    /// A signed-in caller this operation is not for (another user's
    /// resource, a role it lacks).
    Forbidden {
        "403": "Not allowed for this caller",
    }
);

problem_set!(
    /// The resource named in the path does not exist, or is not the caller's.
    NotFound {
        "404": "Not found",
    }
);

problem_set!(
    /// A long stream past its caller's cap ([`crate::long_streams`]); the
    /// answer carries Retry-After.
    TooManyStreams {
        "429": "Too many streams open for this caller",
    }
);
