//! The one mapping between what went wrong and how each protocol says it.
//!
//! Services describe failures with an [`ErrorKind`]; this file alone decides
//! which HTTP status and which gRPC code each kind becomes, so REST and gRPC
//! clients of the same service always hear the same story.

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
