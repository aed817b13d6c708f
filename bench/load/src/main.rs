//! `beckon-load`: run a load test against a running server and print the report (see
//! docs/benchmarks.md for the commands that produced the published figures).

use clap::Parser;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Open many visitor sessions and answering agents against a Beckon server")]
struct Args {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value = "beckon-demo")]
    widget: String,
    #[arg(long, default_value_t = 1000)]
    visitors: usize,
    #[arg(long, default_value_t = 100)]
    chatting: usize,
    /// Agent logins, email:password (repeat); together they need capacity for --chatting (none
    /// for an idle-only run, e.g. against the echo baseline).
    #[arg(long = "agent")]
    agents: Vec<String>,
    /// Messages per second across all chatting visitors.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// New connections per second.
    #[arg(long, default_value_t = 2000.0)]
    connect_rate: f64,
    /// Local source addresses to spread connections over, e.g. 127.0.0.2 (repeat).
    #[arg(long = "source-ip")]
    source_ips: Vec<IpAddr>,
    /// Seconds to hold all sessions open after sending (idle soak).
    #[arg(long, default_value_t = 0)]
    hold: u64,
    /// Measure invite latency: a trigger rule invites every visitor after this many seconds on
    /// the page (needs --admin; replaces the organisation's rules).
    #[arg(long)]
    invite_after: Option<u32>,
    /// Admin login, email:password (for --invite-after).
    #[arg(long)]
    admin: Option<String>,
    /// A cluster's nodes for the visitors, in turn (repeat; default: --url).
    #[arg(long = "visitor-url")]
    visitor_urls: Vec<String>,
    /// The node the agents' consoles use (default: --url).
    #[arg(long)]
    agent_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let agents = a.agents.iter().map(|s| pair(s)).collect::<anyhow::Result<Vec<_>>>()?;
    let report = beckon_load::run(beckon_load::LoadConfig {
        url: a.url,
        widget: a.widget,
        visitors: a.visitors,
        chatting: a.chatting,
        agents,
        rate: a.rate,
        duration: Duration::from_secs(a.duration),
        connect_rate: a.connect_rate,
        source_ips: a.source_ips,
        hold: Duration::from_secs(a.hold),
        invite_after_s: a.invite_after,
        admin: a.admin.as_deref().map(pair).transpose()?,
        visitor_urls: a.visitor_urls,
        agent_url: a.agent_url,
    })
    .await?;
    println!("{}", report.summary());
    if report.lost > 0 || report.acked < report.sent {
        anyhow::bail!(
            "{} acknowledged messages were lost, {} sends unacknowledged",
            report.lost,
            report.sent - report.acked
        );
    }
    Ok(())
}

fn pair(s: &str) -> anyhow::Result<(String, String)> {
    s.split_once(':')
        .map(|(e, p)| (e.to_owned(), p.to_owned()))
        .ok_or_else(|| anyhow::anyhow!("--agent and --admin take email:password"))
}
