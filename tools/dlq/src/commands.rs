//! What each command does. Everything that could refuse (an unknown
//! service or id, a service's credential) is checked before anything
//! changes.

use std::io::{BufRead, Write};
use std::sync::Arc;

use comms::messaging::Subscription;
use comms::messaging::dead_letters::{DeadLetter, DeadLetterQueues, Which};
use comms::messaging::settings::BrokerSettings;

use crate::cli::Command;
use crate::services::{self, Service};

/// Why a command did not do what it was asked.
pub enum Failure {
    /// Nothing was changed: an unknown service or id, a service's
    /// credential, a purge not confirmed.
    Refused(String),
    /// The broker could not be reached or failed midway.
    Broker(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Broker(error)
    }
}

impl From<comms::messaging::BrokerError> for Failure {
    fn from(error: comms::messaging::BrokerError) -> Self {
        Failure::Broker(error.into())
    }
}

/// The broker's dead-letter queues and the services they belong to.
struct Session {
    queues: Arc<dyn DeadLetterQueues>,
    services: Vec<Service>,
}

pub async fn run(service_list: &str, command: Command) -> Result<(), Failure> {
    let services = services::read(service_list)?;
    let settings = BrokerSettings::from_env().map_err(|e| Failure::Broker(e.into()))?;
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    if let Some(why) = crate::credential::refusal(&settings, &names) {
        return Err(Failure::Refused(why));
    }
    let (_, queues, _) = settings.connect_with_dead_letters("dlq").await?;
    let session = Session { queues, services };
    match command {
        Command::List { service, json } => session.list(service.as_deref(), json).await,
        Command::Show { id } => session.show(&id).await,
        Command::Replay { all: true, service, .. } => session.replay(service.as_deref(), Which::All).await,
        Command::Replay { ids, .. } if ids.is_empty() => {
            Err(Failure::Refused("name the ids to replay, or --all".into()))
        }
        Command::Replay { ids, .. } => session.replay_ids(&ids).await,
        Command::Purge { service, yes } => session.purge(&service, yes).await,
    }
}

impl Session {
    /// The subscriptions of `service`, or of every service.
    fn subscriptions(&self, service: Option<&str>) -> Result<Vec<&Subscription>, Failure> {
        if let Some(name) = service
            && !self.services.iter().any(|s| s.name == name)
        {
            let known: Vec<&str> = self.services.iter().map(|s| s.name.as_str()).collect();
            return Err(Failure::Refused(format!("no service {name} in the list (known: {})", known.join(", "))));
        }
        Ok(self
            .services
            .iter()
            .filter(|s| service.is_none_or(|name| s.name == name))
            .flat_map(|s| &s.subscriptions)
            .collect())
    }

    /// Every dead letter, with the subscription it belongs to.
    async fn everything(&self, service: Option<&str>) -> Result<Vec<(&Subscription, DeadLetter)>, Failure> {
        let mut all = Vec::new();
        for subscription in self.subscriptions(service)? {
            for letter in self.queues.list(subscription).await? {
                all.push((subscription, letter));
            }
        }
        Ok(all)
    }

    async fn list(&self, service: Option<&str>, json: bool) -> Result<(), Failure> {
        let all = self.everything(service).await?;
        let mut out = std::io::stdout().lock();
        if json {
            for (subscription, letter) in &all {
                let line = serde_json::json!({
                    "subscription": subscription.name,
                    "id": letter.id,
                    "type": letter.event_type,
                    "reason": letter.reason,
                    "attempts": letter.attempts,
                    "died_at": letter.died_at.map(|t| t.to_rfc3339()),
                });
                let _ = writeln!(out, "{line}");
            }
            return Ok(());
        }
        let _ = writeln!(
            out,
            "{:<24} {:<36} {:<20} {:>8}  {:<25} REASON",
            "SUBSCRIPTION", "ID", "TYPE", "ATTEMPTS", "DIED"
        );
        for (subscription, letter) in &all {
            let died = letter.died_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "{:<24} {:<36} {:<20} {:>8}  {:<25} {}",
                subscription.name, letter.id, letter.event_type, letter.attempts, died, letter.reason
            );
        }
        let _ = writeln!(out, "{} dead letter(s)", all.len());
        Ok(())
    }

    async fn show(&self, id: &str) -> Result<(), Failure> {
        let all = self.everything(None).await?;
        let Some((subscription, letter)) = all.iter().find(|(_, letter)| letter.id == id) else {
            return Err(Failure::Refused(format!("no dead letter {id}")));
        };
        let envelope = serde_json::from_slice::<serde_json::Value>(&letter.body)
            .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
            .unwrap_or_else(|_| String::from_utf8_lossy(&letter.body).into_owned());
        println!(
            "subscription: {}\nreason:       {}\nattempts:     {}",
            subscription.name, letter.reason, letter.attempts
        );
        println!("headers:");
        for (key, value) in &letter.headers {
            println!("  {key}: {value}");
        }
        println!("envelope:\n{envelope}");
        Ok(())
    }

    async fn replay(&self, service: Option<&str>, which: Which<'_>) -> Result<(), Failure> {
        let mut total = 0;
        for subscription in self.subscriptions(service)? {
            let replayed = self.queues.replay(subscription, which).await?;
            for id in &replayed {
                println!("replayed {id} to {}", subscription.name);
            }
            total += replayed.len();
        }
        println!("{total} dead letter(s) replayed");
        Ok(())
    }

    /// Replays exactly `ids`, each to its own subscription; refuses before
    /// replaying any if one is not a dead letter.
    async fn replay_ids(&self, ids: &[String]) -> Result<(), Failure> {
        let all = self.everything(None).await?;
        let missing: Vec<&String> = ids.iter().filter(|id| !all.iter().any(|(_, l)| &l.id == *id)).collect();
        if !missing.is_empty() {
            return Err(Failure::Refused(format!("no dead letter {missing:?}; nothing replayed")));
        }
        let mut total = 0;
        for subscription in self.subscriptions(None)? {
            let mine: Vec<String> = all
                .iter()
                .filter(|(s, l)| s.name == subscription.name && ids.contains(&l.id))
                .map(|(_, l)| l.id.clone())
                .collect();
            if mine.is_empty() {
                continue;
            }
            for id in self.queues.replay(subscription, Which::Ids(&mine)).await? {
                println!("replayed {id} to {}", subscription.name);
                total += 1;
            }
        }
        println!("{total} dead letter(s) replayed");
        Ok(())
    }

    async fn purge(&self, service: &str, yes: bool) -> Result<(), Failure> {
        let subscriptions = self.subscriptions(Some(service))?;
        let mut waiting = 0;
        for subscription in &subscriptions {
            waiting += self.queues.depth(subscription).await?;
        }
        if !yes && !confirmed(&format!("purge {waiting} dead letter(s) of {service}? [y/N] ")) {
            return Err(Failure::Refused("not confirmed; nothing purged".into()));
        }
        let mut purged = 0;
        for subscription in subscriptions {
            purged += self.queues.purge(subscription).await?;
        }
        println!("{purged} dead letter(s) of {service} purged");
        Ok(())
    }
}

/// Asks on the terminal; anything but `y` or `yes` (or no answer) is no.
fn confirmed(question: &str) -> bool {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}
