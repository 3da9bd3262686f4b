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

/// Handles a subcommand if one was given and returns the exit code; `None`
/// means "run the service". `shared` lists the unprefixed variables the
/// binary reads (see [`crate::settings::TELEMETRY_KEYS`]).
pub fn subcommand<T: Serialize + DeserializeOwned>(
    prefix: &str,
    shared: &[&[&str]],
    http_port: impl Fn(&T) -> u16,
) -> Option<i32> {
    match std::env::args().nth(1).as_deref() {
        None => None,
        Some("settings-keys") => Some(print_keys::<T>(prefix, shared)),
        Some("healthcheck") => Some(healthcheck::<T>(prefix, http_port)),
        Some(other) => {
            eprintln!("unknown argument {other:?}: expected no argument, `settings-keys` or `healthcheck`");
            Some(2)
        }
    }
}

fn print_keys<T: Serialize + DeserializeOwned>(prefix: &str, shared: &[&[&str]]) -> i32 {
    match crate::settings::keys::<T>(prefix) {
        Ok(mut keys) => {
            keys.extend(shared.iter().flat_map(|group| group.iter().map(|k| (*k).to_owned())));
            keys.sort();
            keys.dedup();
            println!("{}", keys.join("\n"));
            0
        }
        Err(e) => {
            eprintln!("settings: {e}");
            1
        }
    }
}

fn healthcheck<T: DeserializeOwned>(prefix: &str, http_port: impl Fn(&T) -> u16) -> i32 {
    let port = match crate::settings::from_env::<T>(prefix) {
        Ok(settings) => http_port(&settings),
        Err(e) => {
            eprintln!("settings: {e}");
            return 1;
        }
    };
    match ready(port) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("healthcheck: {e}");
            1
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
