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
//! A failure is counted once its hash has said so; tries already hashing
//! when a key runs out of allowance still finish, so a burst can pass the
//! allowance by the tries in flight, which the hashing bound keeps to a
//! handful (`domain::password::Hashing`). Counting tries before their hash
//! would close that gap, but would also make an owner's own concurrent
//! sign-ins look like failures.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::config::LoginSettings;

/// Whether a sign-in may go ahead.
#[derive(Debug)]
pub enum Verdict {
    Go,
    /// Too many recent failures under one of its keys.
    Wait(Duration),
}

#[derive(Clone, Debug)]
pub struct LoginThrottle {
    settings: LoginSettings,
}

/// One key, and the failures it may have before tries must wait.
struct Key {
    name: String,
    free: u32,
}

impl LoginThrottle {
    pub fn new(settings: LoginSettings) -> Self {
        Self { settings }
    }

    fn names(&self, email: &str, address: &str, known: bool) -> Vec<String> {
        self.keys(email, address, known).into_iter().map(|k| k.name).collect()
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

    /// Whether a try may go ahead: not while any of its keys owes a wait.
    pub async fn admit(&self, db: &PgPool, email: &str, address: &str, known: bool) -> sqlx::Result<Verdict> {
        let names = self.names(email, address, known);
        let wait: Option<f64> = sqlx::query_scalar(
            "SELECT extract(epoch FROM max(retry_at) - now())::float8 FROM login_failures
             WHERE key = ANY($1) AND retry_at > now()",
        )
        .bind(&names)
        .fetch_one(db)
        .await?;
        Ok(match wait {
            Some(secs) if secs > 0.0 => Verdict::Wait(Duration::from_secs_f64(secs).max(Duration::from_secs(1))),
            _ => Verdict::Go,
        })
    }

    /// A wrong password: counted under every key, and each key past its
    /// allowance owes the next wait.
    pub async fn failed(&self, db: &PgPool, email: &str, address: &str, known: bool) -> sqlx::Result<()> {
        let keys = self.keys(email, address, known);
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        let mut tx = db.begin().await?;
        // Rows are written in key order, so two failures sharing keys
        // cannot deadlock.
        let counted: Vec<(String, i32)> = sqlx::query_as(
            "INSERT INTO login_failures AS f (key, failures, last_failure)
             SELECT key, 1, now() FROM unnest($1::text[]) AS key ORDER BY key
             ON CONFLICT (key) DO UPDATE SET last_failure = now(), failures =
                 CASE WHEN f.last_failure < now() - make_interval(secs => $2) THEN 1 ELSE f.failures + 1 END
             RETURNING key, failures",
        )
        .bind(&names)
        .bind(self.settings.failure_memory_secs as f64)
        .fetch_all(&mut *tx)
        .await?;
        let waits: Vec<Option<f64>> = counted
            .iter()
            .map(|(key, failures)| {
                let free = keys.iter().find(|k| k.name == *key).map_or(0, |k| k.free);
                self.wait_after(u32::try_from(*failures).unwrap_or(0), free).map(|w| w.as_secs_f64())
            })
            .collect();
        let counted_names: Vec<&str> = counted.iter().map(|(key, _)| key.as_str()).collect();
        sqlx::query(
            "UPDATE login_failures AS f SET retry_at = now() + make_interval(secs => u.wait)
             FROM unnest($1::text[], $2::float8[]) AS u(key, wait) WHERE f.key = u.key",
        )
        .bind(&counted_names)
        .bind(&waits)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// The right password: this address's failures on the account were the
    /// owner's typing and are forgotten, and the address is remembered as
    /// one the owner uses. The account's count stays: were a sign-in to
    /// clear it, every time the owner signed in an attacker elsewhere would
    /// get the allowance again.
    pub async fn succeeded(&self, db: &PgPool, email: &str, address: &str, user: Uuid) -> sqlx::Result<()> {
        let mut tx = db.begin().await?;
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
    stopping
        .every(every, || async {
            match throttle.prune(&db).await {
                Ok(0) => {}
                Ok(rows) => tracing::debug!(rows, "pruned sign-in records"),
                Err(error) => tracing::warn!(%error, "cannot prune sign-in records"),
            }
        })
        .await
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
