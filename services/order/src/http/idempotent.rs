//! The HTTP side of idempotent placement: reading the `Idempotency-Key`
//! header, and answering with the stored response, marked when replayed.

use axum::extract::FromRequestParts;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::domain::IdempotencyKey;
use crate::error::OrderError;
use crate::placing::Placed;

/// Set to `true` on an answer that repeats an earlier one.
pub const REPLAYED_HEADER: &str = "idempotency-replayed";

/// The request's `Idempotency-Key`. Missing, repeated or malformed → 400
/// (as the IETF Idempotency-Key draft recommends), before the body is read.
pub struct KeyHeader(pub IdempotencyKey);

impl<S: Send + Sync> FromRequestParts<S> for KeyHeader {
    type Rejection = OrderError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(IdempotencyKey::HEADER).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(OrderError::BadIdempotencyKey(
                "send exactly one: a unique value per order, sent again only to retry it".into(),
            ));
        };
        IdempotencyKey::parse(value.as_bytes()).map(Self).map_err(OrderError::BadIdempotencyKey)
    }
}

/// The stored answer as sent the first time, byte for byte.
pub fn respond(placed: Placed) -> Response {
    let (stored, replayed) = match placed {
        Placed::Created(stored) => (stored, false),
        Placed::Replayed(stored) => (stored, true),
    };
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let location = format!("/orders/{}", stored.order_id);
    let mut response =
        (status, [(CONTENT_TYPE, "application/json".to_owned()), (LOCATION, location)], stored.body).into_response();
    if replayed {
        response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}
