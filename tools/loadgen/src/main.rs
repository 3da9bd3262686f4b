//! `loadgen`: simulated customers against the gateway. Each registers, logs
//! in, then browses products and places orders until the time is up; the
//! summary gives throughput, latency per route, errors by status, and how
//! long an order takes from placement to CONFIRMED.
//!
//! ```text
//! cargo run --release -p loadgen -- --users 20 --duration 60s
//! cargo run --release -p loadgen -- --rate 30 --duration 2m --json
//! ```

mod customer;
mod report;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::customer::{Customer, Shop};
use crate::stats::Stats;

#[derive(Parser, Debug, Clone)]
#[command(version, about = "Simulated customers against the switchyard gateway")]
pub struct Args {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://localhost:8080")]
    gateway: String,
    /// Concurrent simulated customers.
    #[arg(long, default_value_t = 10)]
    users: usize,
    /// Orders per second across all customers; unset: as fast as they go.
    #[arg(long)]
    rate: Option<f64>,
    /// How long to run, e.g. 30s, 2m.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Product listings per order (browsing before buying).
    #[arg(long, default_value_t = 2)]
    browse: usize,
    /// The admin who creates the load's products (the seeded one by default).
    #[arg(long, default_value = "admin@switchyard.local")]
    admin_email: String,
    /// Its password; unset, read from `--admin-password-file`.
    #[arg(long)]
    admin_password: Option<String>,
    /// Where deploy/secrets.sh wrote the seed admin's password.
    #[arg(long, default_value = ".secrets/user/admin-password")]
    admin_password_file: std::path::PathBuf,
    /// Don't poll placed orders until CONFIRMED (measure placement alone).
    #[arg(long)]
    no_follow: bool,
    /// Print the summary as JSON (for scripts) instead of a table.
    #[arg(long)]
    json: bool,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

fn parse_duration(raw: &str) -> Result<Duration, String> {
    let (number, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = number.parse().map_err(|_| format!("not a duration: {raw}"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("unknown unit in {raw}: use ms, s or m")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stats = Arc::new(Stats::default());
    let shop = Arc::new(Shop::prepare(&args).await?);
    let deadline = tokio::time::Instant::now() + args.duration;
    let progress = report::progress(&args, stats.clone());

    let per_user_rate = args.rate.map(|rate| rate / args.users as f64);
    let mut customers = tokio::task::JoinSet::new();
    for n in 0..args.users {
        let (shop, stats, gateway) = (shop.clone(), stats.clone(), args.gateway.clone());
        let (browse, follow) = (args.browse, !args.no_follow);
        customers.spawn(async move {
            match Customer::sign_up(&gateway, n, &stats).await {
                Ok(customer) => customer.shop_until(deadline, &shop, browse, follow, per_user_rate, &stats).await,
                Err(error) => stats.failed_sign_up(&error),
            }
        });
    }
    while customers.join_next().await.is_some() {}
    progress.finish_and_clear();

    let summary = stats.summary(args.duration);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        report::print_table(&summary);
    }
    Ok(())
}
