//! The watch loops of a registry: one per watched name, shared by every
//! receiver of it, and publishing only changes.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::Instance;

/// The senders of a registry's running watch loops, by name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Watches(Arc<Mutex<HashMap<String, watch::Sender<Vec<Instance>>>>>);

impl Watches {
    /// A receiver of `service`'s set. The first receiver, or the first
    /// after every earlier one was dropped, spawns `run(sender)`: a loop
    /// that ends once its sender is closed. The set is empty until the loop
    /// publishes.
    pub(crate) fn subscribe<F>(
        &self,
        service: &str,
        run: impl FnOnce(watch::Sender<Vec<Instance>>) -> F,
    ) -> watch::Receiver<Vec<Instance>>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut watches = self.0.lock().expect("watch lock");
        if let Some(tx) = watches.get(service).filter(|tx| !tx.is_closed()) {
            return tx.subscribe();
        }
        let (tx, rx) = watch::channel(Vec::new());
        watches.insert(service.to_owned(), tx.clone());
        tokio::spawn(run(tx));
        rx
    }
}

/// Sorts `instances` by id and publishes them if they differ from the
/// current set: receivers are woken by changes only.
pub(crate) fn publish(tx: &watch::Sender<Vec<Instance>>, service: &str, mut instances: Vec<Instance>) {
    instances.sort_by(|a, b| a.id.cmp(&b.id));
    tx.send_if_modified(|current| {
        let changed = *current != instances;
        if changed {
            tracing::info!(service = %service, instances = instances.len(), "discovered instances changed");
            *current = instances;
        }
        changed
    });
}
