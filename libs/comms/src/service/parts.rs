//! What a service hands back from its part of the build.

use std::sync::Arc;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::grpc::GrpcServices;

/// What a service hands back from its part of the build.
pub struct Parts<S> {
    pub(super) state: Arc<S>,
    pub(super) http: Http,
    pub(super) grpc: Option<GrpcServices>,
}

pub(super) enum Http {
    /// A service's API and its OpenAPI document.
    Api(Router, utoipa::openapi::OpenApi),
    /// A router that is complete as it is.
    Complete(Router),
}

impl<S: Send + Sync + 'static> Parts<S> {
    /// The service's state and its REST API: the library adds
    /// `/openapi.json`, `/health/*` and the standard layers.
    pub fn new(state: Arc<S>, api: OpenApiRouter<Arc<S>>) -> Self {
        let (api, openapi) = api.with_state(state.clone()).split_for_parts();
        Self { state, http: Http::Api(api, openapi), grpc: None }
    }

    /// A complete router with layers of its own (the gateway's).
    pub fn with_router(state: Arc<S>, router: Router) -> Self {
        Self { state, http: Http::Complete(router), grpc: None }
    }

    pub fn grpc(mut self, services: GrpcServices) -> Self {
        self.grpc = Some(services);
        self
    }
}
