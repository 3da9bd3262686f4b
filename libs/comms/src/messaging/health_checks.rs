//! What a service's messaging tells `/health` (`crate::health`).
//!
//! - Ready: the broker connected and every subscription consuming. If not,
//!   the service is `degraded`, not unready: requests are still served and
//!   their events wait in the outbox, so it stays in discovery.
//! - Live: no subscription has gone without consuming for longer than the
//!   restore deadline (`BROKER_RESTORE_DEADLINE_SECS`, 300). Supervision
//!   restarts a consumer within seconds once the broker lets it; one still
//!   down after that long is something a restart of the process may fix.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::broker::MessageBroker;
use crate::health::HealthCheck;

pub(crate) struct BrokerReady(pub Arc<dyn MessageBroker>);

impl HealthCheck for BrokerReady {
    fn name(&self) -> &'static str {
        "broker"
    }

    fn required(&self) -> bool {
        false
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let mut problems = Vec::new();
        if !self.0.connected() {
            problems.push("not connected to the broker".to_owned());
        }
        for (name, status) in self.0.consumption().snapshot() {
            if !status.consuming {
                let down_for = status.down_for().as_secs();
                let cause = status.cause.unwrap_or_default();
                problems.push(format!("{name} not consuming for {down_for} s: {cause}"));
            }
        }
        Box::pin(std::future::ready(if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }))
    }
}

pub(crate) struct SubscriptionsAlive {
    pub broker: Arc<dyn MessageBroker>,
    pub deadline: Duration,
}

impl HealthCheck for SubscriptionsAlive {
    fn name(&self) -> &'static str {
        "subscriptions"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let overdue: Vec<String> = self
            .broker
            .consumption()
            .snapshot()
            .into_iter()
            .filter(|(_, status)| status.down_for() > self.deadline)
            .map(|(name, status)| {
                let down_for = status.down_for().as_secs();
                let cause = status.cause.unwrap_or_default();
                format!(
                    "{name} has not consumed for {down_for} s, past the {} s restore deadline: {cause}",
                    self.deadline.as_secs()
                )
            })
            .collect();
        Box::pin(std::future::ready(if overdue.is_empty() { Ok(()) } else { Err(overdue.join("; ")) }))
    }
}
