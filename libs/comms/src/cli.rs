//! What every service binary answers besides running, so that containers
//! and checks need nothing but the binary itself:
//!
//! - `<binary> settings-keys` prints every environment variable it reads,
//!   one per line (compared with docker-compose.yml in CI);
//! - `<binary> healthcheck` asks the running service's `/health/ready` on
//!   127.0.0.1 and exits 0 when it answers 200: the compose healthcheck,
//!   with no curl in the image.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::settings::{ServiceDefaults, Settings};

/// Handles a subcommand if one was given and returns the exit code; `None`
/// means "run the service".
pub fn subcommand<T: Serialize + DeserializeOwned + Default>(service: &ServiceDefaults) -> Option<i32> {
    answer(|| Ok(Settings::<T>::keys(service)?), || Ok(Settings::<T>::from_env(service)?.service.http_port))
}

/// The same for a binary with settings of its own shape (the gateway):
/// `keys` lists its variables, `http_port` reads the port it serves on.
pub fn answer(
    keys: impl FnOnce() -> anyhow::Result<Vec<String>>,
    http_port: impl FnOnce() -> anyhow::Result<u16>,
) -> Option<i32> {
    let outcome = match std::env::args().nth(1).as_deref() {
        None => return None,
        Some("settings-keys") => keys().map(|keys| {
            println!("{}", keys.join("\n"));
            true
        }),
        Some("healthcheck") => http_port().and_then(|port| Ok(ready(port)?)),
        Some(other) => {
            eprintln!("unknown argument {other:?}: expected no argument, `settings-keys` or `healthcheck`");
            return Some(2);
        }
    };
    match outcome {
        Ok(true) => Some(0),
        Ok(false) => Some(1),
        Err(error) => {
            eprintln!("{error:#}");
            Some(1)
        }
    }
}

fn ready(port: u16) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    stream.write_all(b"GET /health/ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    // "HTTP/1.1 200"
    Ok(&head[9..12] == b"200")
}
