//! The two services an order depends on, over gRPC: user (does the customer
//! exist?) and inventory (what do the products cost?).
//!
//! Each is a comms [`GrpcChannel`] over the registry's live view of the
//! service's instances (Consul, or `ORDER_UPSTREAMS` without it): deadline,
//! circuit breaker, bulkhead, load balancing and trace propagation come
//! from there. Both calls are reads, so UNAVAILABLE is retried within the
//! deadline. What a failure means for the order is decided here, once:
//! down or refusing → 503, too slow → 504, an answer that makes no sense
//! → 502.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use comms::auth::ServiceIdentity;
use comms::client::UpstreamConfig;
use comms::client::grpc::{CIRCUIT_OPEN_METADATA, GrpcChannel, retry_idempotent};
use comms::discovery::ServiceRegistry;
use comms::grpc::TraceInterceptor;
use comms::resilience::{RetryConfig, deadline};
use contracts::inventory::v1::GetProductsRequest;
use contracts::inventory::v1::inventory_service_client::InventoryServiceClient;
use contracts::user::v1::GetUserRequest;
use contracts::user::v1::user_service_client::UserServiceClient;
use tokio::time::Instant;
use tonic::service::interceptor::InterceptedService;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::domain::OrderRequest;
use crate::error::OrderError;

/// The discovery names of the upstreams' gRPC ports.
pub const USER_SERVICE: &str = "user-grpc";
pub const INVENTORY_SERVICE: &str = "inventory-grpc";

type Channel = InterceptedService<GrpcChannel, TraceInterceptor>;

#[derive(Clone)]
pub struct Upstreams {
    users: UserServiceClient<Channel>,
    inventory: InventoryServiceClient<Channel>,
    /// For the calls of one placement together.
    timeout: Duration,
    retry: RetryConfig,
}

impl Upstreams {
    /// Clients over `registry`'s watch of each service: picking an instance
    /// reads the watch, so no registry call is made on the request path.
    /// Every call carries a token from `identity`, this service's own.
    pub fn new(registry: &dyn ServiceRegistry, identity: &Arc<ServiceIdentity>, timeout: Duration) -> Self {
        let channel = |service: &str| {
            let mut config = UpstreamConfig::new(service).identity(identity.clone());
            config.per_try_timeout = timeout;
            config.total_timeout = timeout;
            let channel = GrpcChannel::new(config, registry.watch(service));
            // The channel injects the trace context too; the interceptor
            // does it where the call is made, under the handler's span.
            InterceptedService::new(channel, comms::grpc::inject_trace as TraceInterceptor)
        };
        Self {
            users: UserServiceClient::new(channel(USER_SERVICE)),
            inventory: InventoryServiceClient::new(channel(INVENTORY_SERVICE)),
            timeout,
            retry: RetryConfig::default(),
        }
    }

    /// Checks that the customer exists and prices the request's skus (sku →
    /// minor units; unknown skus are absent). The two calls run side by side
    /// under one deadline; the first failure ends both.
    #[tracing::instrument(skip_all, fields(%customer_id))]
    pub async fn check_and_price(
        &self,
        customer_id: Uuid,
        request: &OrderRequest,
    ) -> Result<HashMap<String, i64>, OrderError> {
        let calls = async { tokio::try_join!(self.check_customer(customer_id), self.prices(request.skus())) };
        let ((), prices) = deadline::scope(Instant::now() + self.timeout, calls).await?;
        Ok(prices)
    }

    async fn check_customer(&self, id: Uuid) -> Result<(), OrderError> {
        let request = GetUserRequest { id: id.to_string() };
        let result = retry_idempotent(&self.retry, || {
            let (mut client, request) = (self.users.clone(), request.clone());
            async move { client.get_user(request).await }
        })
        .await;
        match result {
            Ok(_) => Ok(()),
            // The gateway vouched for the identity, but the account is gone.
            Err(status) if status.code() == Code::NotFound => Err(OrderError::UnknownCustomer),
            Err(status) => Err(upstream_error(USER_SERVICE, &status)),
        }
    }

    async fn prices(&self, skus: Vec<String>) -> Result<HashMap<String, i64>, OrderError> {
        let request = GetProductsRequest { skus };
        let response = retry_idempotent(&self.retry, || {
            let (mut client, request) = (self.inventory.clone(), request.clone());
            async move { client.get_products(request).await }
        })
        .await
        .map_err(|status| upstream_error(INVENTORY_SERVICE, &status))?
        .into_inner();
        if let Some(bad) = response.products.iter().find(|p| p.price < 0) {
            return Err(OrderError::BadGateway {
                service: INVENTORY_SERVICE,
                detail: format!("a negative price for {}", bad.sku),
            });
        }
        Ok(response.products.into_iter().map(|p| (p.sku, p.price)).collect())
    }
}

/// What a failed call means for the order being placed.
fn upstream_error(service: &'static str, status: &Status) -> OrderError {
    match status.code() {
        Code::Unavailable | Code::ResourceExhausted => {
            OrderError::Unavailable { service, retry_after: circuit_open_wait(status) }
        }
        Code::DeadlineExceeded | Code::Cancelled => OrderError::Timeout { service },
        code => {
            // The message may describe the upstream's internals: it goes to
            // the log, the client hears only the code.
            tracing::warn!(service, ?code, message = status.message(), "upstream call failed");
            OrderError::BadGateway { service, detail: format!("it answered {code:?}") }
        }
    }
}

/// How long our own breaker stays open, when it refused the call.
fn circuit_open_wait(status: &Status) -> Option<Duration> {
    let millis = status.metadata().get(CIRCUIT_OPEN_METADATA)?.to_str().ok()?.parse().ok()?;
    Some(Duration::from_millis(millis))
}
