//! What this service asks the user service: a customer's address and name,
//! over REST through the comms client (retries, breaker, balancing over the
//! instances discovery knows).

use comms::client::CallError;
use comms::client::http::HttpClient;
use comms::http::caller::{USER_ID_HEADER, USER_ROLES_HEADER};
use http::{HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;
use uuid::Uuid;

/// The fields of the user service's `UserView` this service reads.
#[derive(Clone, Debug, Deserialize)]
pub struct Customer {
    pub email: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The user service could not be reached or failed: try again later.
    #[error(transparent)]
    Unavailable(#[from] CallError),
    /// It answered, but not as its contract says (a 403 would mean the
    /// identity headers below are no longer accepted).
    #[error("the user service answered {0}")]
    Unexpected(StatusCode),
}

#[derive(Clone)]
pub struct UserDirectory {
    client: HttpClient,
}

impl UserDirectory {
    pub fn new(client: HttpClient) -> Self {
        Self { client }
    }

    /// The customer, or `None` if the user service says they do not exist.
    #[tracing::instrument(skip(self))]
    pub async fn customer(&self, id: Uuid) -> Result<Option<Customer>, LookupError> {
        let user_id = HeaderValue::from_str(&id.to_string()).expect("a UUID is a valid header value");
        // Why these headers: the user service trusts the identity the
        // gateway puts in them and lets a user read only their own account.
        // There is no gateway between services, and no service identity in
        // this system, so the call is made on behalf of the recipient, with
        // the least role that may read that account: as if they asked for
        // themselves. Never `admin`: that would let this service read anyone.
        let response = self
            .client
            .get(&format!("/users/{id}"))
            .header(HeaderName::from_static(USER_ID_HEADER), user_id)
            .header(HeaderName::from_static(USER_ROLES_HEADER), HeaderValue::from_static("customer"))
            .send_json::<Customer>()
            .await?;
        match response {
            Ok(customer) => Ok(Some(customer)),
            Err(response) if response.status() == StatusCode::NOT_FOUND => Ok(None),
            Err(response) => Err(LookupError::Unexpected(response.status())),
        }
    }
}
