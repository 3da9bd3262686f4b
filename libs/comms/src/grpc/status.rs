//! Domain errors as `tonic::Status`, through the same [`ErrorKind`] mapping
//! that REST uses.

use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{ErrorKind, FieldViolation};

pub fn status(kind: ErrorKind, message: impl Into<String>) -> Status {
    Status::new(kind.grpc_code(), message)
}

/// INVALID_ARGUMENT with a `google.rpc.BadRequest` detail listing every bad
/// field, the standard shape stock gRPC tooling knows how to show.
pub fn invalid_argument(message: impl Into<String>, violations: &[FieldViolation]) -> Status {
    let mut details = ErrorDetails::new();
    for v in violations {
        details.add_bad_request_violation(v.field.clone(), v.description.clone());
    }
    Status::with_error_details(tonic::Code::InvalidArgument, message, details)
}

/// INTERNAL with a generic message; the cause goes to the log only. The twin
/// of `Problem::internal`: the gRPC path has no response middleware to log
/// for it, so the error is logged here.
pub fn internal(cause: &anyhow::Error) -> Status {
    tracing::error!(cause = %format!("{cause:#}"), "request failed");
    status(ErrorKind::Internal, "internal error")
}
