//! With `ORDER_CONSUL_URL` set, the upstreams are found through Consul (the
//! test kit's double, which runs the gRPC health checks for real) and the
//! service announces itself there.

use std::net::SocketAddr;
use std::time::Duration;

use comms::discovery::{CheckKind, ConsulRegistry, HealthCheck, Registration, ServiceRegistry};
use testkit::ConsulDouble;

use crate::helpers::{eventually, lines, spawn_app_with};

fn grpc_registration(service: &str, addr: SocketAddr) -> Registration {
    let mut check = HealthCheck::http(String::new());
    check.kind = CheckKind::Grpc { address: addr.to_string(), service: String::new() };
    check.interval = Duration::from_millis(200);
    Registration {
        id: format!("{service}-{}", addr.port()),
        name: service.into(),
        host: addr.ip().to_string(),
        port: addr.port(),
        tags: vec!["grpc".into()],
        meta: Default::default(),
        check,
    }
}

#[tokio::test]
async fn upstreams_are_found_through_consul_and_the_service_registers_itself() {
    let consul = ConsulDouble::start().await;
    let app = spawn_app_with(|settings| {
        settings.service.discovery.consul_url = Some(consul.url());
        settings.service.discovery.upstreams = String::new();
    })
    .await;
    // The doubles join after the service started: the watch picks them up.
    let registry = ConsulRegistry::new(consul.url());
    for (service, addr) in [("user-grpc", app.user_proxy.addr()), ("inventory-grpc", app.inventory_proxy.addr())] {
        registry.register(&grpc_registration(service, addr)).await.unwrap();
    }

    let me = app.customer();
    eventually("an order placed through upstreams found in Consul", || async {
        app.place(&me, "through-consul", &lines(&[("MOUSE", 1)])).await.status() == 201
    })
    .await;

    // Under its instance's own ids (`order-3f9c2a71`, `order-grpc-3f9c2a71`),
    // not its host and port, which replicas share.
    let instance = app.api.instance.clone();
    let mut own: Vec<_> = consul.registered().into_iter().filter(|id| id.starts_with("order")).collect();
    own.sort();
    assert_eq!(own, [instance.to_string(), format!("order-grpc-{}", instance.suffix())]);
}
