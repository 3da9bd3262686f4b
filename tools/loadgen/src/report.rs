//! Showing the run: a progress bar while it goes, a table at the end.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::Args;
use crate::stats::{Stats, Summary};

pub fn progress(args: &Args, stats: Arc<Stats>) -> ProgressBar {
    let bar =
        if args.quiet || args.json { ProgressBar::hidden() } else { ProgressBar::new(args.duration.as_secs().max(1)) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len}s  {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let ticker = bar.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        while !ticker.is_finished() {
            tick.tick().await;
            ticker.inc(1);
            ticker.set_message(format!(
                "{} requests, {} errors, {} orders confirmed",
                stats.requests.load(Ordering::Relaxed),
                stats.errors.load(Ordering::Relaxed),
                stats.orders_confirmed.load(Ordering::Relaxed)
            ));
        }
    });
    bar
}

pub fn print_table(summary: &Summary) {
    println!(
        "{} requests in {:.0} s: {:.1}/s, {} errors",
        summary.requests, summary.duration_secs, summary.requests_per_sec, summary.errors
    );
    println!("\n| route | count | per s | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (route, l) in &summary.routes {
        println!(
            "| {route} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            l.count, l.per_sec, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
        );
    }
    let c = &summary.placed_to_confirmed;
    println!(
        "| placed → CONFIRMED | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
        c.count, c.per_sec, c.p50_ms, c.p90_ms, c.p99_ms, c.max_ms
    );
    let statuses: Vec<String> = summary.statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    println!("\nstatuses: {}", statuses.join(", "));
    println!("orders confirmed: {}, not confirmed: {}", summary.orders_confirmed, summary.orders_not_confirmed);
}
