//! Extractors whose every rejection is a problem+json document.
//!
//! axum's own `Json` and `Query` answer bad input with plain text; a client
//! of this system always gets the same error shape, whatever failed.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::Problem;
use crate::error::ErrorKind;

#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(rejection) => return Err(rejection_to_problem(&rejection)),
        };
        // Every request body of this system is an object. serde would also
        // read a struct from an array of its fields in order, which no
        // client should rely on and the OpenAPI documents do not allow.
        if !value.is_object() {
            return Err(Problem::new(ErrorKind::InvalidInput).detail("the body must be a JSON object"));
        }
        serde_json::from_value(value).map(Self).map_err(|e| {
            Problem::new(ErrorKind::InvalidInput).detail(format!("Failed to deserialize the JSON body: {e}"))
        })
    }
}

fn rejection_to_problem(rejection: &JsonRejection) -> Problem {
    let kind = match rejection {
        JsonRejection::JsonDataError(_) => ErrorKind::InvalidInput,
        JsonRejection::JsonSyntaxError(_) => ErrorKind::BadRequest,
        JsonRejection::MissingJsonContentType(_) => ErrorKind::UnsupportedMediaType,
        // The body-size limit surfaces here as a failure to buffer the body.
        JsonRejection::BytesRejection(_) if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE => {
            ErrorKind::PayloadTooLarge
        }
        _ => ErrorKind::BadRequest,
    };
    Problem::new(kind).detail(rejection.body_text())
}

/// `Query` with a problem+json rejection (400, naming what did not parse).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection_to_problem(&rejection)),
        }
    }
}

fn query_rejection_to_problem(rejection: &QueryRejection) -> Problem {
    Problem::new(ErrorKind::BadRequest).detail(rejection.body_text())
}
