//! What this service asks the user service: a customer's address and name,
//! over REST through the comms client (retries, breaker, balancing over the
//! instances discovery knows).

use comms::client::CallError;
use comms::client::http::HttpClient;
use http::StatusCode;
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
    /// It answered, but not as its contract says (a 403 would mean the user
    /// service's access table no longer lets this service read accounts).
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
        // The call carries this service's own token (the client's
        // identity): the user service's access table lets the notification
        // service read an account, and nothing more.
        let response = self.client.get(&format!("/users/{id}")).send_json::<Customer>().await?;
        match response {
            Ok(customer) => Ok(Some(customer)),
            Err(response) if response.status() == StatusCode::NOT_FOUND => Ok(None),
            Err(response) => Err(LookupError::Unexpected(response.status())),
        }
    }
}
