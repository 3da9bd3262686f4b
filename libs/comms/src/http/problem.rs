//! Problem Details for HTTP APIs (RFC 9457): the body of every error response.
//!
//! A [`Problem`] carries the request id of the request it answers, so a user
//! who reports an error hands over the key to its logs and trace.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use super::request_id;
use crate::error::{ErrorKind, FieldViolation, ServiceError, with_causes};

pub const CONTENT_TYPE: &str = "application/problem+json";

/// Where a problem's `type` starts unless `{PREFIX}PROBLEM_TYPE_BASE` says
/// otherwise: a path on the API's own origin, which RFC 9457 resolves
/// against the response's URI. So the default names nothing the project
/// does not control; a deployment that documents its problem types at a
/// URL of its own sets that instead (docs/patterns/problem-details.md).
pub const DEFAULT_TYPE_BASE: &str = "/problems/";

/// This process's base, set once at start ([`set_type_base`]).
static TYPE_BASE: OnceLock<String> = OnceLock::new();

/// Refuses a base a `type` could not be made from: it must be an absolute
/// URI (`https://errors.example.com/problems/`) or a path from the root
/// (`/problems/`), and end with `/`, since each kind's slug is appended.
pub fn check_type_base(base: &str) -> Result<(), String> {
    let absolute = base.split_once(':').is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && !rest.is_empty()
    });
    let ends = base.ends_with('/') || (absolute && base.ends_with(':'));
    if !(absolute || base.starts_with('/')) || !ends || base.chars().any(char::is_whitespace) {
        return Err(format!(
            "`{base}` is not an absolute URI or a path from the root ending in `/` (or, for a URN or tag, `:`)"
        ));
    }
    Ok(())
}

/// Sets the base of every problem `type` this process answers with. Set
/// once, at start, from the settings; a second, different value is refused
/// rather than changing the answers of a running service.
pub fn set_type_base(base: &str) -> anyhow::Result<()> {
    check_type_base(base).map_err(anyhow::Error::msg)?;
    let set = TYPE_BASE.get_or_init(|| base.to_owned());
    anyhow::ensure!(set == base, "the problem type base is already {set}, not {base}");
    Ok(())
}

/// The `type` of a problem of `kind` under `base`.
pub fn type_uri(base: &str, kind: ErrorKind) -> String {
    format!("{base}{}", kind.slug())
}

/// Attached to an error response so the request-span middleware can log the
/// internal cause exactly once; it never reaches the client.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The id of the request this answers (the `X-Request-ID` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldViolation>,
    #[serde(skip)]
    retry_after_secs: Option<u64>,
    #[serde(skip)]
    cause: Option<String>,
}

impl Problem {
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            type_uri: type_uri(TYPE_BASE.get().map_or(DEFAULT_TYPE_BASE, String::as_str), kind),
            title: kind.title().to_owned(),
            status: kind.http_status().as_u16(),
            detail: None,
            request_id: request_id::current(),
            errors: Vec::new(),
            retry_after_secs: None,
            cause: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn violations(mut self, errors: Vec<FieldViolation>) -> Self {
        self.errors = errors;
        self
    }

    /// A `Retry-After` header, in whole seconds rounded up: "retry in 0 s"
    /// would invite the immediate retry the answer is meant to prevent.
    pub fn retry_after(mut self, wait: Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.retry_after_secs = Some(secs.max(1));
        self
    }

    /// A service error as problem+json: its kind, its text as the detail,
    /// its bad fields and its time to wait. An internal error shows the
    /// client nothing and hands its causes to the log.
    pub fn of<E: ServiceError>(error: &E) -> Self {
        match error.kind() {
            ErrorKind::Internal => Self::internal(with_causes(error)),
            kind => {
                let problem = Self::new(kind).detail(error.to_string()).violations(error.violations());
                match error.retry_after() {
                    Some(wait) => problem.retry_after(wait),
                    None => problem,
                }
            }
        }
    }

    /// An internal error: the client sees a generic 500, the log sees `cause`.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut problem = Self::new(ErrorKind::Internal);
        problem.cause = Some(format!("{cause:#}"));
        problem
    }
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let cause = self.cause.take();
        // A 503 always says when to come back: clients wait instead of
        // hammering, and the gateway's breaker reads it as deliberate (an
        // answer, not a failing service).
        let retry_after = self.retry_after_secs.or((status == StatusCode::SERVICE_UNAVAILABLE).then_some(1));
        let mut response = (status, Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(cause) = cause {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

impl From<ErrorKind> for Problem {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_503_always_says_when_to_come_back() {
        let plain = Problem::new(ErrorKind::Unavailable).into_response();
        assert_eq!(plain.headers()[header::RETRY_AFTER], "1");
        let set = Problem::new(ErrorKind::Unavailable).retry_after(Duration::from_millis(2500)).into_response();
        assert_eq!(set.headers()[header::RETRY_AFTER], "3", "rounded up, as set");
        let other = Problem::new(ErrorKind::BadGateway).into_response();
        assert!(other.headers().get(header::RETRY_AFTER).is_none(), "only 503s get one unasked");
    }

    #[test]
    fn a_base_is_an_absolute_uri_or_a_path_from_the_root_ending_where_a_slug_can_follow() {
        for good in [DEFAULT_TYPE_BASE, "https://errors.example.com/problems/", "tag:example.com,2026:problems:"] {
            assert_eq!(check_type_base(good), Ok(()), "{good}");
        }
        for bad in ["", "problems/", "/problems", "https://errors.example.com/p", "with space/", ":x/", "/p:"] {
            assert!(check_type_base(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(type_uri(DEFAULT_TYPE_BASE, ErrorKind::InvalidInput), "/problems/invalid-input");
    }
}
