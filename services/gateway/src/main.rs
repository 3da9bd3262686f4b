//! The gateway binary: telemetry, settings, build, run (or `settings-keys` /
//! `healthcheck`, see `comms::cli`).

use gateway::config::{GATEWAY, Settings};

// The gateway's whole work is per-request allocation (header maps, URIs,
// buffers), which mimalloc does with less work than glibc's malloc: ×0.86
// of nginx's throughput became ×0.97 with nothing else changed. The other
// services keep the system allocator, which holds less memory when idle
// (docs/performance.md, figures 1 and 8).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Some(code) = comms::cli::answer(Settings::keys, || Ok(Settings::from_env()?.port)) {
        std::process::exit(code);
    }
    let telemetry = comms::telemetry::init(GATEWAY.name)?;
    let served = async {
        let app = gateway::startup::build(&Settings::from_env()?).await?;
        app.run_until_stopped(comms::Shutdown::on_signal()).await
    }
    .await;
    if let Err(error) = &served {
        tracing::error!(error = format!("{error:#}"), "the gateway stopped with an error");
    }
    telemetry.shutdown();
    served
}
