//! The one mapping between what went wrong and how each protocol says it.
//!
//! Services describe failures with an [`ErrorKind`]; this file alone decides
//! which HTTP status and which gRPC code each kind becomes, so REST and gRPC
//! clients of the same service always hear the same story.

use std::time::Duration;

use http::StatusCode;
use tonic::Code;

/// What went wrong, independent of the protocol that reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (bad JSON, a bad query string).
    BadRequest,
    /// The request is well-formed but a field fails validation.
    InvalidInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// A unique thing already exists (an email, a key).
    Conflict,
    /// The operation does not fit the resource's current state.
    FailedPrecondition,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    /// A dependency is down or refusing work; retrying later may succeed.
    Unavailable,
    /// A proxy could not get a valid answer from the upstream.
    BadGateway,
    /// The work did not finish in time.
    Timeout,
    /// A bug or an unexpected failure: details go to the log, never the client.
    Internal,
}

impl ErrorKind {
    pub fn http_status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::FailedPrecondition => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway => StatusCode::BAD_GATEWAY,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn grpc_code(self) -> Code {
        match self {
            Self::BadRequest | Self::InvalidInput => Code::InvalidArgument,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::Forbidden => Code::PermissionDenied,
            Self::NotFound => Code::NotFound,
            Self::MethodNotAllowed => Code::Unimplemented,
            Self::Conflict => Code::AlreadyExists,
            Self::FailedPrecondition => Code::FailedPrecondition,
            Self::PayloadTooLarge | Self::RateLimited => Code::ResourceExhausted,
            Self::UnsupportedMediaType => Code::InvalidArgument,
            Self::Unavailable | Self::BadGateway => Code::Unavailable,
            Self::Timeout => Code::DeadlineExceeded,
            Self::Internal => Code::Internal,
        }
    }

    /// The reverse direction, for a REST handler that relays a failed gRPC
    /// call: a NOT_FOUND from a dependency is still a 404 to our client.
    pub fn from_grpc_code(code: Code) -> Self {
        match code {
            Code::InvalidArgument | Code::OutOfRange => Self::InvalidInput,
            Code::Unauthenticated => Self::Unauthenticated,
            Code::PermissionDenied => Self::Forbidden,
            Code::NotFound => Self::NotFound,
            Code::AlreadyExists | Code::Aborted => Self::Conflict,
            Code::FailedPrecondition => Self::FailedPrecondition,
            Code::ResourceExhausted => Self::RateLimited,
            Code::Unavailable => Self::Unavailable,
            Code::DeadlineExceeded | Code::Cancelled => Self::Timeout,
            _ => Self::Internal,
        }
    }

    /// A short, stable title for problem+json documents.
    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "Bad request",
            Self::InvalidInput => "Invalid input",
            Self::Unauthenticated => "Authentication required",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict => "Conflict",
            Self::FailedPrecondition => "Failed precondition",
            Self::PayloadTooLarge => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::RateLimited => "Too many requests",
            Self::Unavailable => "Service unavailable",
            Self::BadGateway => "Bad gateway",
            Self::Timeout => "Timed out",
            Self::Internal => "Internal error",
        }
    }

    /// A kebab-case slug used in the problem `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::InvalidInput => "invalid-input",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict => "conflict",
            Self::FailedPrecondition => "failed-precondition",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::RateLimited => "rate-limited",
            Self::Unavailable => "unavailable",
            Self::BadGateway => "bad-gateway",
            Self::Timeout => "timeout",
            Self::Internal => "internal",
        }
    }
}

/// One field that failed validation; the same shape goes into problem+json
/// `errors` and into gRPC `google.rpc.BadRequest` field violations.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self { field: field.into(), description: description.into() }
    }
}

/// A service's one error type, as its callers hear it.
///
/// Each variant names its [`ErrorKind`]; a variant that carries bad fields or
/// a time to wait says so too. [`service_error!`](crate::service_error) then
/// builds the REST answer (problem+json) and the gRPC status from these
/// methods alone, so the two protocols cannot tell different stories. The
/// `Display` text is the client-facing detail, except for
/// [`ErrorKind::Internal`], whose text and causes go to the log only.
pub trait ServiceError: std::error::Error {
    fn kind(&self) -> ErrorKind;

    /// The fields at fault: problem+json `errors`, gRPC `BadRequest` detail.
    fn violations(&self) -> Vec<FieldViolation> {
        Vec::new()
    }

    /// How long before trying again may succeed: the `Retry-After` header,
    /// gRPC `RetryInfo` detail.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// The failures every service shares, whatever its domain: fields that do
/// not validate, its database, and bugs. A service's error type wraps them
/// in one variant, `Failed(#[from] Failure)`, next to its own; with
/// [`service_error!`](crate::service_error), `?` turns a `FieldViolation`,
/// a `sqlx::Error` or an `anyhow::Error` straight into that type.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// 422 / INVALID_ARGUMENT, listing every bad field.
    #[error("invalid input")]
    Invalid(Vec<FieldViolation>),
    /// 503 / UNAVAILABLE when the database is out of reach or busy, else
    /// 500 / INTERNAL ([`crate::db::answer_kind`]).
    #[error("the database failed")]
    Database(#[from] sqlx::Error),
    /// 500 / INTERNAL: the cause goes to the log only.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<FieldViolation> for Failure {
    fn from(violation: FieldViolation) -> Self {
        Self::Invalid(vec![violation])
    }
}

impl From<Vec<FieldViolation>> for Failure {
    fn from(violations: Vec<FieldViolation>) -> Self {
        Self::Invalid(violations)
    }
}

impl ServiceError for Failure {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) => ErrorKind::InvalidInput,
            Self::Database(error) => crate::db::answer_kind(error),
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    fn violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::Invalid(violations) => violations.clone(),
            _ => Vec::new(),
        }
    }
}

/// An error and every cause under it, one line: what the log needs from an
/// internal error whose `Display` alone may be only the outermost context.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        line = format!("{line}: {inner}");
        cause = inner.source();
    }
    line
}

/// Gives a service's error type, a [`ServiceError`] with a
/// `Failed(#[from] Failure)` variant, its answers and conversions:
///
/// - axum's `IntoResponse` (problem+json, [`Problem::of`](crate::http::Problem::of))
///   and `From<E> for tonic::Status` ([`status_of`](crate::grpc::status_of));
/// - `From` a `FieldViolation`, a `Vec<FieldViolation>`, a `sqlx::Error` and
///   an `anyhow::Error`, through [`Failure`], so `?` works on each;
/// - `E::invalid(field, description)`, one bad field.
///
/// A macro only because of the orphan rule: axum's and tonic's traits and
/// the type live in other crates than this one, so the impls must be
/// written in the service's.
///
/// ```ignore
/// comms::service_error!(UserError);
/// ```
#[macro_export]
macro_rules! service_error {
    ($error:ty) => {
        impl $crate::http::__axum::response::IntoResponse for $error {
            fn into_response(self) -> $crate::http::__axum::response::Response {
                $crate::http::__axum::response::IntoResponse::into_response($crate::http::Problem::of(&self))
            }
        }

        impl ::core::convert::From<$error> for $crate::grpc::__tonic::Status {
            fn from(error: $error) -> Self {
                $crate::grpc::status_of(&error)
            }
        }

        impl ::core::convert::From<$crate::error::FieldViolation> for $error {
            fn from(violation: $crate::error::FieldViolation) -> Self {
                Self::from($crate::error::Failure::from(violation))
            }
        }

        impl ::core::convert::From<::std::vec::Vec<$crate::error::FieldViolation>> for $error {
            fn from(violations: ::std::vec::Vec<$crate::error::FieldViolation>) -> Self {
                Self::from($crate::error::Failure::from(violations))
            }
        }

        impl ::core::convert::From<$crate::db::__sqlx::Error> for $error {
            fn from(error: $crate::db::__sqlx::Error) -> Self {
                Self::from($crate::error::Failure::from(error))
            }
        }

        impl ::core::convert::From<$crate::__anyhow::Error> for $error {
            fn from(error: $crate::__anyhow::Error) -> Self {
                Self::from($crate::error::Failure::from(error))
            }
        }

        impl $error {
            /// One field that does not validate (a 422 naming it).
            pub fn invalid(field: &str, description: &str) -> Self {
                Self::from($crate::error::FieldViolation::new(field, description))
            }
        }
    };
}

/// A service's one error type, written as a table: each variant with the
/// [`ErrorKind`] it answers with and its client-facing message (a
/// `thiserror` format, fields included). The macro adds the shared
/// `Failed(#[from] Failure)` variant, implements [`ServiceError`] (the
/// kinds; `Failed` hands on its own kind and fields) and applies
/// [`service_error!`](crate::service_error). A variant about one field
/// names it after its message (`on "email": "is already registered"`);
/// other fields and a time to wait come from the optional `violations` and
/// `retry_after` closures, which see the error and are never called for
/// `Failed`.
///
/// ```ignore
/// comms::service_errors! {
///     pub enum UserError {
///         EmailTaken => Conflict("email is already registered") on "email": "is already registered",
///         NotFound => NotFound("user not found"),
///     }
/// }
/// ```
#[macro_export]
macro_rules! service_errors {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident
                $( ( $($tuple:ty),* $(,)? ) )?
                $( { $($field:ident : $field_type:ty),* $(,)? } )?
                => $kind:ident ( $($message:tt)* )
                $( on $field_name:literal : $field_description:literal )?
            ),* $(,)?
        }
        $( violations = |$violations_of:ident| $violations:expr; )?
        $( retry_after = |$retry_of:ident| $retry_after:expr; )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, thiserror::Error)]
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                #[error($($message)*)]
                $variant $( ( $($tuple),* ) )? $( { $($field : $field_type),* } )?,
            )*
            /// 422 for bad fields, 503 or 500 for the database, 500 for a bug.
            #[error(transparent)]
            Failed(#[from] $crate::error::Failure),
        }

        $crate::service_error!($name);

        impl $crate::error::ServiceError for $name {
            fn kind(&self) -> $crate::error::ErrorKind {
                match self {
                    $( Self::$variant { .. } => $crate::error::ErrorKind::$kind, )*
                    Self::Failed(failure) => $crate::error::ServiceError::kind(failure),
                }
            }

            #[allow(unreachable_code)]
            fn violations(&self) -> ::std::vec::Vec<$crate::error::FieldViolation> {
                if let Self::Failed(failure) = self {
                    return $crate::error::ServiceError::violations(failure);
                }
                $( $(
                    if let Self::$variant { .. } = self {
                        return vec![$crate::error::FieldViolation::new($field_name, $field_description)];
                    }
                )? )*
                $( let $violations_of = self; return $violations; )?
                ::std::vec::Vec::new()
            }

            #[allow(unreachable_code)]
            fn retry_after(&self) -> ::core::option::Option<::std::time::Duration> {
                if let Self::Failed(failure) = self {
                    return $crate::error::ServiceError::retry_after(failure);
                }
                $( let $retry_of = self; return $retry_after; )?
                None
            }
        }
    };
}
