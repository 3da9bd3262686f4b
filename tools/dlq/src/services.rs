//! Which dead-letter queues exist: read from the service list
//! (deploy/services.toml), so a service the generator added is covered
//! with nothing to change here.

use anyhow::Context;
use comms::messaging::Subscription;
use serde::Deserialize;

#[derive(Deserialize)]
struct List {
    service: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    #[serde(default)]
    tasks: Vec<String>,
    #[serde(default)]
    consumes: Vec<String>,
}

/// A service and the subscriptions that have dead letters: its events
/// subscription (named after it) if it consumes any, and each task queue
/// it works.
pub struct Service {
    pub name: String,
    pub subscriptions: Vec<Subscription>,
}

pub fn read(path: &str) -> anyhow::Result<Vec<Service>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the service list {path}"))?;
    let list: List = toml::from_str(&text).with_context(|| format!("{path} is not a valid service list"))?;
    Ok(list
        .service
        .into_iter()
        .map(|entry| {
            let types: Vec<&str> = entry.consumes.iter().map(String::as_str).collect();
            let mut subscriptions = Vec::new();
            if !types.is_empty() {
                subscriptions.push(Subscription::events(&entry.name, &types));
            }
            subscriptions.extend(entry.tasks.iter().map(|queue| Subscription::tasks(queue)));
            Service { name: entry.name, subscriptions }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_gives_each_consumer_and_task_queue_its_dead_letters() {
        let services = super::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/services.toml")).unwrap();
        let names = |service: &str| -> Vec<String> {
            let found = services.iter().find(|s| s.name == service).unwrap();
            found.subscriptions.iter().map(|s| s.name.clone()).collect()
        };
        assert_eq!(names("inventory"), ["inventory"]);
        assert_eq!(names("notification"), ["notification", "notification.delivery"]);
        assert!(names("gateway").is_empty(), "the gateway consumes nothing");
    }
}
