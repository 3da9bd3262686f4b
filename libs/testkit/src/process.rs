//! A service run as a separate process from its built binary.
//!
//! Needed when a test must tell several services' spans apart (the tracer
//! is global per process), must measure a service's memory on its own, or
//! must send it a real signal.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct ServiceProcess {
    child: Child,
    /// Every address the service logged in its `listening` line, by field
    /// name (`http_addr`, `grpc_addr`).
    addrs: HashMap<String, SocketAddr>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl ServiceProcess {
    /// Starts `binary` with `env` (on top of a clean copy of this process's
    /// environment) and waits until it logs `listening`.
    pub async fn spawn(binary: &str, env: &[(&str, String)]) -> anyhow::Result<Self> {
        let mut child = Command::new(binary)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn {binary}"))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let logs = Arc::new(Mutex::new(Vec::new()));

        let addrs = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                logs.lock().expect("log lock").push(line.clone());
                if let Some(addrs) = listening_addrs(&line) {
                    return Ok(addrs);
                }
            }
            anyhow::bail!("{binary} exited before listening; its log:\n{}", logs.lock().expect("log lock").join("\n"))
        })
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{binary} did not start listening within 30 s; its log:\n{}",
                logs.lock().expect("log lock").join("\n")
            )
        })??;

        // Keep draining stdout so the child never blocks on a full pipe.
        let sink = logs.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().expect("log lock").push(line);
            }
        });
        Ok(Self { child, addrs, logs })
    }

    pub fn addr(&self, field: &str) -> SocketAddr {
        *self.addrs.get(field).unwrap_or_else(|| panic!("the service logged no {field}"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the service is running")
    }

    /// Resident memory in bytes (Linux `/proc`).
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmRSS in /proc status")?;
        Ok(kb * 1024)
    }

    /// Sends SIGTERM, as an orchestrator does to stop a container.
    pub fn terminate(&self) -> anyhow::Result<()> {
        let status = std::process::Command::new("kill").args(["-TERM", &self.pid().to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        Ok(())
    }

    /// Sends SIGKILL: a crash, with no drain and no deregistration.
    pub fn kill(&self) -> anyhow::Result<()> {
        let status = std::process::Command::new("kill").args(["-KILL", &self.pid().to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill -KILL failed");
        Ok(())
    }

    /// Waits for the process to exit and returns whether it exited cleanly.
    pub async fn wait(&mut self, limit: Duration) -> anyhow::Result<bool> {
        let status = tokio::time::timeout(limit, self.child.wait()).await.context("the service did not exit")??;
        Ok(status.success())
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }
}

/// The addresses in a JSON log line whose message is `listening`.
fn listening_addrs(line: &str) -> Option<HashMap<String, SocketAddr>> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?.as_object()?;
    if fields.get("message")?.as_str()? != "listening" {
        return None;
    }
    Some(fields.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.parse().ok()?))).collect())
}
