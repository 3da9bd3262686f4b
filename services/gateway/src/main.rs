//! The gateway binary: telemetry, settings, build, run (or `settings-keys` /
//! `healthcheck`, see `comms::cli`).

use gateway::config::Settings;
use gateway::startup::Application;

// The gateway's whole work is per-request allocation (header maps, URIs,
// buffers), which mimalloc does with less work than glibc's malloc: ×0.86
// of nginx's throughput became ×0.97 with nothing else changed. The other
// services keep the system allocator, which holds less memory when idle
// (docs/performance.md, figures 1 and 8).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Some(code) = comms::cli::subcommand::<Settings>("GATEWAY_", &[comms::settings::TELEMETRY_KEYS], |s| s.port) {
        std::process::exit(code);
    }
    let telemetry = comms::telemetry::init("gateway")?;
    let settings = Settings::from_env()?;
    let app = Application::build(&settings).await?;
    app.run_until_stopped(comms::Shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
