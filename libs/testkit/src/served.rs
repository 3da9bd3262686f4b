//! A service's application serving inside the test process, with a client
//! for it. What every service's `spawn_app` does after building the app.

use std::net::SocketAddr;

use comms::Shutdown;
use comms::service::Application;
use reqwest::{Method, RequestBuilder};

use crate::identity::{As, Identified};

/// Serving until dropped (or until its [`Shutdown`] is triggered).
pub struct Served {
    /// `http://host:port` of the REST listener.
    pub base: String,
    pub http: reqwest::Client,
    pub shutdown: Shutdown,
    grpc_addr: Option<SocketAddr>,
}

impl Served {
    pub fn start<S: Send + Sync + 'static>(app: Application<S>) -> Self {
        let base = format!("http://{}", app.http_addr());
        let grpc_addr = app.grpc_addr_if_any();
        let shutdown = Shutdown::new();
        tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Self { base, http: reqwest::Client::new(), shutdown, grpc_addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` from `who`.
    pub fn request(&self, method: Method, path: &str, who: &As) -> RequestBuilder {
        self.http.request(method, self.url(path)).identified_as(who)
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr.expect("this service has no gRPC listener")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Stop serving before the test's database is dropped underneath.
        self.shutdown.trigger();
    }
}
