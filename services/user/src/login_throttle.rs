//! Login throttling: failed sign-ins slow down further tries, and never
//! lock the owner out.
//!
//! Failures are counted under three keys, each with its own free allowance
//! ([`LoginSettings`]):
//!
//! | key | counts | default free failures |
//! |---|---|---|
//! | the account | failures from addresses it never signed in from | 10 |
//! | the account from one address | that address's failures on it | 5 |
//! | the address | its failures on any account | 20 |
//!
//! Past its allowance, each failure doubles the wait before the key's next
//! try (1 s, 2 s, 4 s, …, at most `max_wait_secs`, 15 minutes by default),
//! and a try during the wait is answered 429 with `Retry-After` before any
//! password is hashed. A key forgets its failures `failure_memory_secs`
//! (an hour) after the last one.
//!
//! **How the owner gets in during an attack.** Waits are capped, so nothing
//! is locked for good. And an address the account signed in from within
//! `known_address_days` (30) is not held back by the account's count, only
//! by its own: someone guessing from elsewhere, from however many
//! addresses, slows the account for everyone except the places its owner
//! uses. A new address of the owner's waits out the account's back-off like
//! anyone else, once; after that sign-in it is known.
//!
//! A try is counted before its hash runs, in one transaction that locks the
//! keys' rows: concurrent tries cannot slip past the allowance together. A
//! successful sign-in takes its own count back.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::LoginSettings;

/// Whether a sign-in may go ahead.
#[derive(Debug)]
pub enum Verdict {
    /// Counted as a failure until [`LoginThrottle::succeeded`] says otherwise.
    Counted,
    /// Too many recent failures under one of its keys.
    Wait(Duration),
}

#[derive(Clone, Debug)]
pub struct LoginThrottle {
    settings: LoginSettings,
}

/// A key's row as a try finds it: key, failures, last failure, wait until,
/// and the database's clock.
type Counted = (String, i32, DateTime<Utc>, Option<DateTime<Utc>>, DateTime<Utc>);

/// One key, and the failures it may have before tries must wait.
struct Key {
    name: String,
    free: u32,
}

impl LoginThrottle {
    pub fn new(settings: LoginSettings) -> Self {
        Self { settings }
    }

    fn keys(&self, email: &str, address: &str, known: bool) -> Vec<Key> {
        let s = &self.settings;
        let mut keys = vec![
            Key { name: format!("pair:{email} {address}"), free: s.pair_free_failures },
            Key { name: format!("address:{address}"), free: s.address_free_failures },
        ];
        if !known {
            keys.push(Key { name: format!("account:{email}"), free: s.account_free_failures });
        }
        // Rows are locked in key order, so two tries sharing keys cannot
        // deadlock.
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        keys
    }

    /// Whether `address` signed in to the account under `email` recently.
    pub async fn known(&self, db: &PgPool, email: &str, address: &str) -> sqlx::Result<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sign_in_addresses s JOIN users u ON u.id = s.user_id
             WHERE u.email = $1 AND s.address = $2 AND s.last_sign_in > now() - make_interval(days => $3))",
        )
        .bind(email)
        .bind(address)
        .bind(self.known_days())
        .fetch_one(db)
        .await
    }

    /// Counts a try on every key, unless one of them is still waiting.
    pub async fn admit(&self, db: &PgPool, email: &str, address: &str, known: bool) -> sqlx::Result<Verdict> {
        let keys = self.keys(email, address, known);
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        let mut tx = db.begin().await?;
        sqlx::query(
            "INSERT INTO login_failures (key, failures, last_failure)
             SELECT key, 0, now() FROM unnest($1::text[]) AS key ON CONFLICT (key) DO NOTHING",
        )
        .bind(&names)
        .execute(&mut *tx)
        .await?;
        let rows: Vec<Counted> = sqlx::query_as(
            "SELECT key, failures, last_failure, retry_at, now() FROM login_failures
             WHERE key = ANY($1) ORDER BY key FOR UPDATE",
        )
        .bind(&names)
        .fetch_all(&mut *tx)
        .await?;

        let memory = chrono::Duration::seconds(self.settings.failure_memory_secs as i64);
        let mut counts = Vec::with_capacity(rows.len());
        let mut waits = Vec::with_capacity(rows.len());
        let mut longest = Duration::ZERO;
        for (key, failures, last_failure, retry_at, now) in rows {
            if let Some(retry_at) = retry_at
                && retry_at > now
            {
                longest = longest.max((retry_at - now).to_std().unwrap_or_default());
            }
            let free = keys.iter().find(|k| k.name == key).map_or(0, |k| k.free);
            let remembered = if now - last_failure > memory { 0 } else { failures.max(0) as u32 };
            let failures = remembered + 1;
            counts.push(failures as i32);
            waits.push(self.wait_after(failures, free).map(|w| w.as_secs_f64()));
        }
        if !longest.is_zero() {
            // Nothing is counted: the try never reached a hash.
            tx.rollback().await?;
            return Ok(Verdict::Wait(longest));
        }
        sqlx::query(
            "UPDATE login_failures AS f
             SET failures = u.failures, last_failure = now(), retry_at = now() + make_interval(secs => u.wait)
             FROM unnest($1::text[], $2::int[], $3::float8[]) AS u(key, failures, wait)
             WHERE f.key = u.key",
        )
        .bind(&names)
        .bind(&counts)
        .bind(&waits)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Verdict::Counted)
    }

    /// The right password: the try is taken back from every key that
    /// counted it, and the address is remembered as one the owner uses.
    /// The account's count stays: were a sign-in to clear it, every time
    /// the owner signed in the attacker would get the allowance again.
    pub async fn succeeded(
        &self,
        db: &PgPool,
        email: &str,
        address: &str,
        known: bool,
        user: Uuid,
    ) -> sqlx::Result<()> {
        let counted: Vec<String> = self.keys(email, address, known).into_iter().map(|k| k.name).collect();
        let mut tx = db.begin().await?;
        sqlx::query(
            "UPDATE login_failures SET failures = greatest(failures - 1, 0),
                 retry_at = CASE WHEN failures - 1 > 0 THEN retry_at END
             WHERE key = ANY($1)",
        )
        .bind(&counted)
        .execute(&mut *tx)
        .await?;
        // This address's failures on this account were the owner's typing.
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(format!("pair:{email} {address}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sign_in_addresses (user_id, address, last_sign_in) VALUES ($1, $2, now())
             ON CONFLICT (user_id, address) DO UPDATE SET last_sign_in = now()",
        )
        .bind(user)
        .bind(address)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Deletes counts nobody owes a wait for any more and addresses not
    /// used within `known_address_days`, so neither table grows for ever.
    pub async fn prune(&self, db: &PgPool) -> sqlx::Result<u64> {
        let failures = sqlx::query(
            "DELETE FROM login_failures
             WHERE last_failure < now() - make_interval(secs => $1) AND (retry_at IS NULL OR retry_at < now())",
        )
        .bind(self.settings.failure_memory_secs as f64)
        .execute(db)
        .await?;
        let addresses =
            sqlx::query("DELETE FROM sign_in_addresses WHERE last_sign_in < now() - make_interval(days => $1)")
                .bind(self.known_days())
                .execute(db)
                .await?;
        Ok(failures.rows_affected() + addresses.rows_affected())
    }

    /// The wait a key owes after its `failures`-th failure.
    fn wait_after(&self, failures: u32, free: u32) -> Option<Duration> {
        let over = failures.checked_sub(free).filter(|over| *over > 0)?;
        let doubling = 1u64 << (over - 1).min(32);
        Some(Duration::from_secs(doubling.min(self.settings.max_wait_secs)))
    }

    fn known_days(&self) -> i32 {
        i32::try_from(self.settings.known_address_days).unwrap_or(i32::MAX)
    }
}

/// Prunes every `every` until `stopping`.
pub async fn prune_periodically(
    throttle: LoginThrottle,
    db: PgPool,
    every: Duration,
    stopping: comms::Shutdown,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stopped = stopping.wait();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => return Ok(()),
            _ = ticks.tick() => {}
        }
        match throttle.prune(&db).await {
            Ok(0) => {}
            Ok(rows) => tracing::debug!(rows, "pruned sign-in records"),
            Err(error) => tracing::warn!(%error, "cannot prune sign-in records"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_past_the_allowance_up_to_the_cap() {
        let throttle = LoginThrottle::new(LoginSettings { max_wait_secs: 900, ..LoginSettings::default() });
        let waits: Vec<Option<u64>> = (1..=16).map(|n| throttle.wait_after(n, 5).map(|w| w.as_secs())).collect();
        assert_eq!(&waits[..5], &[None; 5], "the first five are free");
        assert_eq!(&waits[5..10], &[Some(1), Some(2), Some(4), Some(8), Some(16)]);
        assert_eq!(waits[15], Some(900), "capped, so never locked for good");
        assert_eq!(throttle.wait_after(u32::MAX, 0), Some(Duration::from_secs(900)));
    }

    #[test]
    fn a_known_address_is_not_held_back_by_the_accounts_count() {
        let throttle = LoginThrottle::new(LoginSettings::default());
        let names = |known| throttle.keys("ada@example.com", "203.0.113.7", known).into_iter().map(|k| k.name);
        assert_eq!(
            names(false).collect::<Vec<_>>(),
            ["account:ada@example.com", "address:203.0.113.7", "pair:ada@example.com 203.0.113.7"]
        );
        assert!(names(true).all(|name| !name.starts_with("account:")));
    }
}
