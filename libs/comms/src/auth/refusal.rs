//! How a refused caller is told, over REST and over gRPC.

use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http::header::WWW_AUTHENTICATE;

use super::AuthError;
use crate::error::ErrorKind;
use crate::http::Problem;

/// 401 with the challenge RFC 6750 asks for: a missing token gets a plain
/// `Bearer`, a bad one `error="invalid_token"`.
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let challenge = match self {
            Self::Missing => "Bearer",
            Self::Invalid(_) => "Bearer error=\"invalid_token\"",
        };
        let mut response = Problem::new(ErrorKind::Unauthenticated).detail(self.to_string()).into_response();
        response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        response
    }
}

impl From<AuthError> for tonic::Status {
    fn from(error: AuthError) -> Self {
        tonic::Status::unauthenticated(error.to_string())
    }
}
