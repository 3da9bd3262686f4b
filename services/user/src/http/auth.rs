//! Registration, login and the public signing key.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use comms::http::client_address::ClientAddress;
use comms::http::responses::{BodyRefused, InvalidInput};
use comms::http::{ApiJson, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::users::UserView;
use crate::accounts::{self, NewUser};
use crate::error::UserError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(register)).routes(routes!(login)).routes(routes!(jwks))
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: String,
    /// At most 100 characters, not blank, no control characters (stored trimmed).
    #[schema(
        example = "Ada Lovelace",
        min_length = 1,
        max_length = 100,
        pattern = r"^\s*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    /// 8 to 128 characters.
    #[schema(example = "correct horse battery", min_length = 8, max_length = 128)]
    password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: u64,
    user: UserView,
}

/// Create an account with the `customer` role.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = UserView,
            headers(("Location" = String, description = "The new user's URL"))),
        (status = 409, description = "Email already registered", body = Problem, content_type = "application/problem+json"),
        BodyRefused, InvalidInput,
    ))]
#[tracing::instrument(skip_all)]
async fn register(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, UserError> {
    let new = NewUser::parse(&body.email, &body.name, &body.password)?;
    let user = accounts::register(&state, new).await?;
    let location = format!("/users/{}", user.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(UserView::from(user))))
}

/// Exchange email and password for an access token (EdDSA-signed JWT).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "JSON of the wrong shape", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins for this account or address: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Too many sign-ins at once: retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        BodyRefused,
    ))]
#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<TokenResponse>, UserError> {
    let (user, access_token) = accounts::login(&state, &body.email, body.password, &client.network()).await?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.current().ttl_secs(),
        user: user.into(),
    }))
}

/// The public keys that verify this service's tokens (RFC 7517 JWK Set).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses(
(status = 200, description = "JWK Set", content_type = "application/json")
    ))]
async fn jwks(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    // Verifiers may cache the key set; a rotation publishes the new key
    // before signing with it, so five minutes of staleness is safe.
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.tokens.current().jwks().clone()))
}
