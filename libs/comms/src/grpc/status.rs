//! Domain errors as `tonic::Status`, through the same [`ErrorKind`] mapping
//! that REST uses.

use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{ErrorKind, FieldViolation, ServiceError, with_causes};

/// A service error as gRPC says it: the kind's code, the error's text, and
/// the standard details (`BadRequest` for bad fields, `RetryInfo` for a
/// time to wait) that stock tooling shows. Internal errors are logged here
/// and answered with a generic message.
pub fn status_of<E: ServiceError>(error: &E) -> Status {
    let kind = error.kind();
    if kind == ErrorKind::Internal {
        tracing::error!(cause = %with_causes(error), "request failed");
        return status(ErrorKind::Internal, "internal error");
    }
    let mut details = ErrorDetails::new();
    let violations = error.violations();
    for v in &violations {
        details.add_bad_request_violation(v.field.clone(), v.description.clone());
    }
    let retry_after = error.retry_after();
    if retry_after.is_some() {
        details.set_retry_info(retry_after);
    }
    if violations.is_empty() && retry_after.is_none() {
        status(kind, error.to_string())
    } else {
        Status::with_error_details(kind.grpc_code(), error.to_string(), details)
    }
}

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
