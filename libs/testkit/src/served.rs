//! A service's application serving inside the test process, with a client
//! for it. What every service's `spawn_app` does after building the app.

use std::net::SocketAddr;

use comms::Shutdown;
use comms::instance::InstanceId;
use comms::service::Application;
use reqwest::{Method, RequestBuilder};

use crate::identity::{As, Identified};

/// Serving until dropped (or until its [`Shutdown`] is triggered).
pub struct Served {
    /// `http://host:port` of the REST listener.
    pub base: String,
    pub http: reqwest::Client,
    pub shutdown: Shutdown,
    /// The service's name: the audience of tokens sent to it.
    pub service: &'static str,
    grpc_addr: Option<SocketAddr>,
    /// The internal listener serving `/metrics`.
    pub metrics_addr: SocketAddr,
    /// Which copy of the service it is (its registrations' ids).
    pub instance: InstanceId,
}

impl Served {
    pub fn start<S: Send + Sync + 'static>(app: Application<S>) -> Self {
        let base = format!("http://{}", app.http_addr());
        let grpc_addr = app.grpc_addr_if_any();
        let metrics_addr = app.metrics_addr();
        let service = app.name();
        let instance = app.instance().clone();
        let shutdown = Shutdown::new();
        tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Self { base, http: reqwest::Client::new(), shutdown, service, grpc_addr, metrics_addr, instance }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` from `who`.
    pub fn request(&self, method: Method, path: &str, who: &As) -> RequestBuilder {
        self.http.request(method, self.url(path)).identified_as(who)
    }

    /// A request to `path` as the gateway sends a public route's: under the
    /// gateway's own identity, whoever the client is.
    pub fn via_gateway(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(crate::service_token("gateway", self.service))
    }

    /// A request to `path` from the service `caller`, as its client sends it.
    pub fn from_service(&self, caller: &str, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(crate::service_token(caller, self.service))
    }

    /// A gRPC channel whose calls carry `token`.
    pub async fn grpc_as(&self, token: &str) -> crate::grpc::Authorized {
        crate::grpc::authorized(self.grpc_addr(), token).await
    }

    /// A gRPC channel as a new admin user.
    pub async fn grpc_as_admin(&self) -> crate::grpc::Authorized {
        self.grpc_as(&As::admin().token()).await
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr.expect("this service has no gRPC listener")
    }
}

/// Sends `request` and reads its answer's JSON body, for a test that
/// expects one (any status).
pub async fn json_of(request: RequestBuilder) -> serde_json::Value {
    request.send().await.expect("the request is answered").json().await.expect("a JSON body")
}

impl Drop for Served {
    fn drop(&mut self) {
        // Stop serving before the test's database is dropped underneath.
        self.shutdown.trigger();
    }
}
