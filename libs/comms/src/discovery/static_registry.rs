//! Discovery from configuration: fixed addresses per service, for `just dev`
//! and tests, where there is no Consul.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::{DiscoveryError, Instance, Registration, ServiceRegistry};

/// Instances by service name. Registrations are kept in memory, so a
/// process can discover itself the same way it would through Consul.
#[derive(Debug, Default)]
pub struct StaticRegistry {
    services: Mutex<HashMap<String, watch::Sender<Vec<Instance>>>>,
}

impl StaticRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `name=host:port[,host:port...];name2=...`, the format of the
    /// `*_UPSTREAMS` settings.
    pub fn from_spec(spec: &str) -> Self {
        let registry = Self::new();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            if let Some((name, addresses)) = entry.split_once('=') {
                let addresses: Vec<&str> = addresses.split(',').map(str::trim).filter(|a| !a.is_empty()).collect();
                registry.set(name.trim(), &addresses);
            }
        }
        registry
    }

    /// Replaces the instances of `service`; watchers see the change.
    pub fn set(&self, service: &str, addresses: &[&str]) {
        let instances = addresses
            .iter()
            .map(|a| Instance {
                id: format!("{service}@{a}"),
                service: service.to_owned(),
                address: (*a).to_owned(),
                tags: Vec::new(),
                meta: Vec::new(),
            })
            .collect();
        self.sender(service).send_replace(instances);
    }

    fn sender(&self, service: &str) -> watch::Sender<Vec<Instance>> {
        let mut services = self.services.lock().expect("registry lock");
        services.entry(service.to_owned()).or_insert_with(|| watch::channel(Vec::new()).0).clone()
    }
}

impl ServiceRegistry for StaticRegistry {
    /// Configuration forgets nothing.
    fn is_registered<'a>(&'a self, _instance_id: &'a str) -> BoxFuture<'a, Result<bool, DiscoveryError>> {
        Box::pin(async { Ok(true) })
    }

    fn register<'a>(&'a self, r: &'a Registration) -> BoxFuture<'a, Result<(), DiscoveryError>> {
        let instance = Instance {
            id: r.id.clone(),
            service: r.name.clone(),
            address: format!("{}:{}", r.host, r.port),
            tags: r.tags.clone(),
            meta: r.meta.clone().into_iter().collect(),
        };
        self.sender(&r.name).send_modify(|list| {
            list.retain(|i| i.id != instance.id);
            list.push(instance);
        });
        Box::pin(async { Ok(()) })
    }

    fn deregister<'a>(&'a self, instance_id: &'a str) -> BoxFuture<'a, Result<(), DiscoveryError>> {
        for sender in self.services.lock().expect("registry lock").values() {
            sender.send_modify(|list| list.retain(|i| i.id != instance_id));
        }
        Box::pin(async { Ok(()) })
    }

    fn discover<'a>(&'a self, service: &'a str) -> BoxFuture<'a, Result<Vec<Instance>, DiscoveryError>> {
        let instances = self.sender(service).borrow().clone();
        Box::pin(async move { Ok(instances) })
    }

    fn watch(&self, service: &str) -> watch::Receiver<Vec<Instance>> {
        self.sender(service).subscribe()
    }
}
