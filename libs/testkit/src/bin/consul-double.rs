//! The test kit's Consul double as a process of its own, for
//! `DEV_DISCOVERY=consul-double just dev`: discovery through a registry,
//! with registrations, health checks and blocking queries, on machines
//! where Consul itself cannot be installed (CI's). It is a double, and says
//! so: the parts of Consul's HTTP API the services use, in memory, no UI,
//! no ACLs.
//!
//! Usage: consul-double [ADDRESS]   (default 127.0.0.1:8500; loopback only)

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let address: SocketAddr = std::env::args().nth(1).as_deref().unwrap_or("127.0.0.1:8500").parse()?;
    anyhow::ensure!(address.ip().is_loopback(), "the Consul double listens on loopback only, not {address}");
    let consul = testkit::ConsulDouble::start_on(address).await?;
    println!("consul double (the test kit's stand-in, not Consul) on {}", consul.url());
    comms::Shutdown::on_signal().wait().await;
    Ok(())
}
