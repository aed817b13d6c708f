//! `beckon-reconnect`: hold N idle widgets against a running server; when the server restarts
//! (bench/restart.sh does that once this prints READY), measure how long until every widget has
//! reconnected and resumed.

use clap::Parser;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value = "beckon-demo")]
    widget: String,
    #[arg(long, default_value_t = 1000)]
    visitors: usize,
    #[arg(long, default_value_t = 2000.0)]
    connect_rate: f64,
    #[arg(long = "source-ip")]
    source_ips: Vec<IpAddr>,
    /// The widget's first retry delay, in ms (doubling up to --backoff-cap-ms).
    #[arg(long, default_value_t = 1000)]
    backoff_ms: u64,
    #[arg(long, default_value_t = 30_000)]
    backoff_cap_ms: u64,
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let report = beckon_load::reconnect::run(
        beckon_load::reconnect::ReconnectConfig {
            url: a.url,
            widget: a.widget,
            visitors: a.visitors,
            connect_rate: a.connect_rate,
            source_ips: a.source_ips,
            backoff_base: Duration::from_millis(a.backoff_ms),
            backoff_cap: Duration::from_millis(a.backoff_cap_ms),
            timeout: Duration::from_secs(a.timeout),
        },
        || println!("READY"),
    )
    .await?;
    println!("{}", report.summary());
    if report.back < report.connected {
        anyhow::bail!("{} of {} widgets did not come back", report.connected - report.back, report.connected);
    }
    Ok(())
}
