//! Deadlines: how long a call may still take, carried along the call chain.
//!
//! A handler can run work under [`scope`]; every client call made inside
//! then gets at most the time that is left, whatever its own configured
//! timeout. The gRPC channel sends that remaining time as `grpc-timeout`,
//! so the server stops working on an answer nobody will wait for.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` with a deadline; nested scopes can only shorten it.
pub async fn scope<F: Future>(deadline: Instant, work: F) -> F::Output {
    let deadline = current().map_or(deadline, |outer| outer.min(deadline));
    DEADLINE.scope(deadline, work).await
}

/// The deadline of the current task, if one is set.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// The earlier of `now + budget` and the current task's deadline.
pub fn effective(budget: Duration) -> Instant {
    let own = Instant::now() + budget;
    current().map_or(own, |d| d.min(own))
}

/// Formats a duration as a `grpc-timeout` value: at most eight digits and
/// a unit, choosing the finest unit that fits (gRPC over HTTP/2 spec).
pub fn grpc_timeout_value(remaining: Duration) -> String {
    let millis = remaining.as_millis();
    let micros = remaining.as_micros();
    if micros < 100_000_000 {
        format!("{micros}u")
    } else if millis < 100_000_000 {
        format!("{millis}m")
    } else {
        format!("{}S", remaining.as_secs().min(99_999_999))
    }
}

/// Parses a `grpc-timeout` value (`H`, `M`, `S`, `m`, `u`, `n` units).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_round_trip_in_the_finest_unit_that_fits() {
        for d in [
            Duration::from_millis(1),
            Duration::from_millis(750),
            Duration::from_secs(250),
            Duration::from_secs(500_000),
        ] {
            let value = grpc_timeout_value(d);
            assert!(value.len() <= 9, "{value}");
            let parsed = parse_grpc_timeout(&value).unwrap();
            assert!(parsed <= d && d - parsed < Duration::from_secs(1), "{d:?} -> {value} -> {parsed:?}");
        }
        assert_eq!(parse_grpc_timeout("10x"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn nested_scopes_only_shorten_the_deadline() {
        let soon = Instant::now() + Duration::from_secs(1);
        scope(soon, async move {
            let later = Instant::now() + Duration::from_secs(10);
            scope(later, async move { assert_eq!(current(), Some(soon)) }).await;
            assert_eq!(effective(Duration::from_secs(5)), soon);
            assert_eq!(effective(Duration::from_millis(5)), Instant::now() + Duration::from_millis(5));
        })
        .await;
        assert_eq!(current(), None);
    }
}
