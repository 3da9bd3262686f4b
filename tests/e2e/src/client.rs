//! A thin client of the public API, as a browser or a mobile app sees it:
//! the gateway's URL and a bearer token, nothing else.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self { base: base.to_owned(), http: reqwest::Client::new(), token: None }
    }

    /// The same client acting with `token`.
    pub fn with_token(&self, token: &str) -> Self {
        Self { token: Some(token.to_owned()), ..self.clone() }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, String)],
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).timeout(Duration::from_secs(15));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Registers and logs in a new customer; returns their id and token.
    pub async fn new_customer(&self, name: &str) -> (String, String) {
        let email = format!("{}-{}@example.com", name.to_lowercase(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let password = "a customer's password";
        let (status, user) =
            self.post("/api/auth/register", json!({ "email": email, "name": name, "password": password })).await;
        assert_eq!(status, StatusCode::CREATED, "register: {user}");
        (user["id"].as_str().expect("user id").to_owned(), self.login(&email, password).await)
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self.post("/api/auth/login", json!({ "email": email, "password": password })).await;
        assert_eq!(status, StatusCode::OK, "login: {body}");
        body["access_token"].as_str().expect("access token").to_owned()
    }

    /// Places an order with a fresh Idempotency-Key.
    pub async fn place_order(&self, lines: Value) -> (StatusCode, Value) {
        let key = uuid::Uuid::new_v4().to_string();
        self.call_with(Method::POST, "/api/orders", Some(json!({ "lines": lines })), &[("Idempotency-Key", key)]).await
    }

    /// Polls `path` until `done` holds for its JSON body (up to `timeout`),
    /// and returns the last body either way.
    pub async fn poll(&self, path: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (status, body) = self.get(path).await;
            if (status.is_success() && done(&body)) || tokio::time::Instant::now() >= deadline {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The items of a paginated list, whichever envelope the service uses.
pub fn items(page: &Value) -> Vec<Value> {
    if let Some(list) = page.as_array() {
        return list.clone();
    }
    ["items", "data", "notifications", "orders", "products"]
        .iter()
        .find_map(|key| page.get(*key).and_then(Value::as_array).cloned())
        .unwrap_or_default()
}
