//! Doubles of the user and inventory gRPC services, with in-memory data.
//! Services never depend on each other, so the order tests serve these
//! from the contracts' server traits, with the standard health service so
//! a Consul double can check them, on 127.0.0.1:0.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use contracts::inventory::v1 as inventory;
use contracts::inventory::v1::inventory_service_server::{InventoryService, InventoryServiceServer};
use contracts::user::v1 as user;
use contracts::user::v1::user_service_server::{UserService, UserServiceServer};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

/// The users that exist; GetUser answers NOT_FOUND for anyone else.
#[derive(Clone, Default)]
pub struct Users {
    ids: Arc<Mutex<HashSet<Uuid>>>,
    traceparents: Arc<Mutex<Vec<String>>>,
}

impl Users {
    pub fn add(&self, id: Uuid) {
        self.ids.lock().unwrap().insert(id);
    }

    /// The `traceparent` of every GetUser call received.
    pub fn traceparents(&self) -> Vec<String> {
        self.traceparents.lock().unwrap().clone()
    }
}

#[tonic::async_trait]
impl UserService for Users {
    async fn get_user(
        &self,
        request: Request<user::GetUserRequest>,
    ) -> Result<Response<user::GetUserResponse>, Status> {
        if let Some(traceparent) = request.metadata().get("traceparent").and_then(|v| v.to_str().ok()) {
            self.traceparents.lock().unwrap().push(traceparent.to_owned());
        }
        let id: Uuid = request.get_ref().id.parse().map_err(|_| Status::invalid_argument("id must be a UUID"))?;
        if !self.ids.lock().unwrap().contains(&id) {
            return Err(Status::not_found("user not found"));
        }
        let user = user::User { id: id.to_string(), name: "Customer".into(), ..user::User::default() };
        Ok(Response::new(user::GetUserResponse { user: Some(user) }))
    }

    async fn create_user(
        &self,
        _: Request<user::CreateUserRequest>,
    ) -> Result<Response<user::CreateUserResponse>, Status> {
        Err(Status::unimplemented("not in the double"))
    }

    type ListUsersStream = ReceiverStream<Result<user::User, Status>>;

    async fn list_users(&self, _: Request<user::ListUsersRequest>) -> Result<Response<Self::ListUsersStream>, Status> {
        Err(Status::unimplemented("not in the double"))
    }

    async fn update_users(
        &self,
        _: Request<Streaming<user::UpdateUserRequest>>,
    ) -> Result<Response<user::UpdateUsersResponse>, Status> {
        Err(Status::unimplemented("not in the double"))
    }
}

/// A catalogue of prices; GetProducts lists unknown skus as missing.
#[derive(Clone, Default)]
pub struct Inventory {
    prices: Arc<Mutex<HashMap<String, i64>>>,
}

impl Inventory {
    pub fn with_prices(prices: &[(&str, i64)]) -> Self {
        let inventory = Self::default();
        inventory.prices.lock().unwrap().extend(prices.iter().map(|(sku, price)| ((*sku).to_owned(), *price)));
        inventory
    }
}

#[tonic::async_trait]
impl InventoryService for Inventory {
    async fn get_products(
        &self,
        request: Request<inventory::GetProductsRequest>,
    ) -> Result<Response<inventory::GetProductsResponse>, Status> {
        let prices = self.prices.lock().unwrap().clone();
        let mut response = inventory::GetProductsResponse::default();
        for sku in &request.get_ref().skus {
            match prices.get(sku) {
                Some(price) => response.products.push(inventory::Product {
                    sku: sku.clone(),
                    name: format!("Product {sku}"),
                    price: *price,
                    stock: 100,
                }),
                None => response.missing.push(sku.clone()),
            }
        }
        Ok(Response::new(response))
    }

    type WatchStockStream = ReceiverStream<Result<inventory::StockChange, Status>>;

    async fn watch_stock(
        &self,
        _: Request<inventory::WatchStockRequest>,
    ) -> Result<Response<Self::WatchStockStream>, Status> {
        Err(Status::unimplemented("not in the double"))
    }
}

/// Serves the user double on a free port.
pub async fn serve_users(users: Users) -> SocketAddr {
    serve(tonic::service::Routes::new(UserServiceServer::new(users))).await
}

/// Serves the inventory double on a free port.
pub async fn serve_inventory(inventory: Inventory) -> SocketAddr {
    serve(tonic::service::Routes::new(InventoryServiceServer::new(inventory))).await
}

async fn serve(routes: tonic::service::Routes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_, health) = tonic_health::server::health_reporter();
    let routes = routes.add_service(health);
    tokio::spawn(
        tonic::transport::Server::builder().add_routes(routes).serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}
