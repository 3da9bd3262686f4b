//! CPU time of a process, so a throughput ratio can be split into "who
//! spent more CPU per call": the client (this process) or the server.
//! On two cores both compete for the same CPUs, so CPU per call, not
//! calls per second alone, says where a difference comes from.

use std::time::Duration;

use anyhow::Context;

/// Linux reports `utime` and `stime` in USER_HZ ticks, which the kernel
/// fixes at 100 per second for every process's view, whatever HZ it runs at.
const TICK: Duration = Duration::from_millis(10);

/// User plus system CPU time used so far by every thread of process `pid`
/// (`"self"` for this one).
pub fn used(pid: &str) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    ticks(&stat).map(|t| TICK * t).with_context(|| format!("parse {path}"))
}

/// `utime + stime` from a stat line. The command name (field 2) is in
/// parentheses and may hold spaces, so fields are counted after the last `)`.
fn ticks(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u32 = fields.next()?.parse().ok()?;
    let stime: u32 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_read_after_a_command_name_with_spaces() {
        let line = "4242 (user svc) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 37 0 0 20 0 5 0 100 0 0";
        assert_eq!(ticks(line), Some(287));
        assert_eq!(ticks("garbage"), None);
    }
}
