//! The guard in front of a service's REST handlers.
//!
//! Installed with `route_layer`, so it runs only for a request that matched
//! a route and method: an unknown path stays a 404, a wrong method a 405.
//! An operation is named as `"{METHOD} {route template}"`, `HEAD` as `GET`
//! (axum answers a HEAD with the GET handler).

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;
use http::header::AUTHORIZATION;

use super::guard::{Guard, Refusal};
use crate::error::ErrorKind;
use crate::http::Problem;

pub async fn authenticate(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>() else {
        return next.run(request).await;
    };
    let method = if request.method() == Method::HEAD { &Method::GET } else { request.method() };
    let operation = format!("{method} {}", path.as_str());
    let authorization = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match guard.admit(&operation, authorization).await {
        Ok(principal) => {
            if let Some(principal) = principal {
                request.extensions_mut().insert(principal);
            }
            next.run(request).await
        }
        Err(Refusal::Unauthenticated(error)) => error.into_response(),
        Err(Refusal::Forbidden(detail)) => Problem::new(ErrorKind::Forbidden).detail(detail).into_response(),
    }
}
