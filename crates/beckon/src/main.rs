//! The `beckon` command. Kept thin: parse flags, set up logging, hand over to `beckon-server`.

use anyhow::Context;
use beckon_server::config::Settings;
use beckon_server::{Application, demo};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "beckon",
    version,
    about = "Self-hosted live chat that invites visitors at the right moment"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run the server with a demo organisation, widget and agent login (database: beckon-demo.db).
    Demo(ServeArgs),
    /// Print every setting with its default value, as a beckon.toml file.
    Config,
    /// Set how a widget verifies signed-in visitors' tokens (see docs/visitor-auth.md).
    WidgetAuth(WidgetAuthArgs),
    /// Add an agent to the organisation and default queue of a widget. The password is read
    /// from BECKON_NEW_AGENT_PASSWORD, or else from the first line of standard input.
    AgentAdd(AgentAddArgs),
}

#[derive(Args)]
struct AgentAddArgs {
    /// The widget whose organisation and default queue the agent joins.
    #[arg(long)]
    widget: String,
    #[arg(long)]
    email: String,
    #[arg(long)]
    name: String,
    /// agent or admin.
    #[arg(long, default_value = "agent", value_parser = ["agent", "admin"])]
    role: String,
    /// Conversations handled at once.
    #[arg(long, default_value_t = 3)]
    capacity: u32,
    /// Database, e.g. sqlite://beckon.db (default: from the configuration).
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Args)]
struct WidgetAuthArgs {
    /// The widget's id (its data-app-id).
    widget: String,
    /// A JSON file with the setting (docs/visitor-auth.md); omit with --off.
    file: Option<PathBuf>,
    /// Turn visitor authentication off for the widget.
    #[arg(long, conflicts_with = "file")]
    off: bool,
    /// Database, e.g. sqlite://beckon.db (default: from the configuration).
    #[arg(long)]
    database_url: Option<String>,
    /// Configuration file (default: ./beckon.toml if it exists).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Flags win over `BECKON_*` environment variables, which win over the config file.
#[derive(Args, Serialize)]
struct ServeArgs {
    /// Configuration file (default: ./beckon.toml if it exists).
    #[arg(long)]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 0.0.0.0:8080 (port 0: any free port).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    bind: Option<SocketAddr>,
    /// URL browsers reach this server at, e.g. https://chat.example.com.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    public_url: Option<String>,
    /// Database: sqlite://beckon.db, or postgres://user@host/db for several nodes.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    /// The bus between nodes, e.g. nats://127.0.0.1:4222 (none: this node runs alone).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    nats_url: Option<String>,
    /// Log format: pretty or json.
    #[arg(long, value_parser = ["pretty", "json"])]
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<String>,
}

/// jemalloc instead of the system allocator: with many thousand idle sockets whose small
/// allocations were made on different threads, glibc's arenas kept about twice the memory
/// (31.5 KB vs 15.4 KB per idle session at 5,000 sessions, docs/benchmarks.md).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Errors end the process as one line on standard error (`beckon: what: why`), with no
/// backtrace even when `RUST_BACKTRACE` is set: they are the user's to read, not a crash.
fn main() -> std::process::ExitCode {
    match run_command(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("beckon: {}", format!("{e:#}").replace('\n', " "));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_command(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Config => {
            print!("{}", Settings::defaults_toml());
            Ok(())
        }
        Command::Serve(args) => run(args, false),
        Command::WidgetAuth(args) => widget_auth(args),
        Command::AgentAdd(args) => agent_add(args),
        Command::Demo(args) => run(args, true),
    }
}

fn run(args: ServeArgs, demo_mode: bool) -> anyhow::Result<()> {
    let mut base = Settings::default();
    if demo_mode {
        base.database_url = "sqlite://beckon-demo.db".into();
        base.demo = true;
    }
    let settings = Settings::load_over(base, args.config.as_deref(), &args)
        .map_err(|e| anyhow::anyhow!("configuration: {}", beckon_server::config::describe(&e)))?;
    beckon_server::logging::init(settings.log_format, settings.limits.log_lines_per_second);
    for name in Settings::unknown_env_vars() {
        tracing::warn!(variable = %name, "ignored: this BECKON_ environment variable names no setting (`beckon config` lists them)");
    }
    tokio::runtime::Runtime::new()?.block_on(async move {
        let app = Application::build(settings).await?;
        let url = app.public_url().to_owned();
        if demo_mode {
            let state = app.state();
            let login = demo::seed(state.store.as_ref(), state.clock.as_ref()).await.context("seeding the demo")?;
            println!("Beckon demo is running.");
            println!("  Demo site:      {url}/demo/");
            println!("  Agent console:  {url}/console   (sign in as {} / {})", login.email, login.password);
            println!("  Embed the widget in any page:");
            println!(
                "    <script id=\"Microsoft_Omnichannel_LCWidget\" src=\"{url}/widget.js\" data-app-id=\"{}\" data-org-url=\"{url}\"></script>",
                login.widget_key
            );
        }
        // The line tests and scripts wait for: the server accepts connections from here on.
        println!("beckon listening on {url}");
        let stop = app.shutdown_token();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            stop.cancel();
        });
        app.run_until_stopped().await
    })
}

fn agent_add(args: AgentAddArgs) -> anyhow::Result<()> {
    use beckon_server::beckon_domain::WidgetKey;
    use beckon_server::beckon_domain::model::Role;
    use beckon_server::beckon_store::{NewAgent, StoreError};
    let password = match std::env::var("BECKON_NEW_AGENT_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let password = beckon_server::beckon_domain::NewPassword::parse(&password)?;
    let email = beckon_server::beckon_domain::EmailAddress::parse(&args.email)
        .map_err(|e| anyhow::anyhow!("--email: {e}"))?
        .lowercased()
        .into_string();
    if args.name.trim().is_empty() {
        anyhow::bail!("give the agent a --name");
    }
    let settings = Settings::load(None, DbFlag { database_url: args.database_url })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tokio::runtime::Runtime::new()?.block_on(async move {
        let store = beckon_server::beckon_store::connect(&settings.database_url).await?;
        let key = WidgetKey::parse(&args.widget)
            .ok_or_else(|| anyhow::anyhow!("{:?} is not a widget id", args.widget))?;
        let widget = store.widget_by_key(&key).await?.ok_or_else(|| {
            anyhow::anyhow!(
                "no widget {key} in {}",
                beckon_server::beckon_store::redacted(&settings.database_url)
            )
        })?;
        let hash = beckon_server::auth::hash_password(password.as_str())?;
        let now = beckon_server::beckon_domain::Timestamp(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64,
        );
        let role = if args.role == "admin" { Role::Admin } else { Role::Agent };
        let new = NewAgent {
            org_id: widget.org_id,
            email: email.clone(),
            name: args.name.trim().to_owned(),
            password_hash: hash,
            role,
            capacity: args.capacity,
        };
        let agent = match store.create_agent(new, now).await {
            Err(StoreError::Conflict(_)) => {
                anyhow::bail!("an agent with the email {email} already exists")
            }
            other => other?,
        };
        if let Some(queue) = widget.default_queue_id {
            store.add_agent_to_queue(agent.id, queue, now).await?;
        }
        println!(
            "agent {} <{}> added (id {}, {}, capacity {})",
            agent.name, agent.email, agent.id, args.role, agent.capacity
        );
        Ok(())
    })
}

#[derive(Serialize)]
struct DbFlag {
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
}

fn widget_auth(args: WidgetAuthArgs) -> anyhow::Result<()> {
    use beckon_server::beckon_domain::WidgetKey;
    use beckon_server::beckon_domain::model::WidgetAuth;
    let settings = Settings::load(args.config.as_deref(), DbFlag { database_url: args.database_url })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let auth = match (&args.file, args.off) {
        (_, true) => None,
        (Some(path), false) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let auth: WidgetAuth = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid setting", path.display()))?;
            beckon_server::visitor_auth::check_config(&auth)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some(auth)
        }
        (None, false) => anyhow::bail!("give the setting's JSON file, or --off"),
    };
    tokio::runtime::Runtime::new()?.block_on(async move {
        let store = beckon_server::beckon_store::connect(&settings.database_url).await?;
        let key = WidgetKey::parse(&args.widget)
            .ok_or_else(|| anyhow::anyhow!("{:?} is not a widget id", args.widget))?;
        let widget = store.widget_by_key(&key).await?.ok_or_else(|| {
            anyhow::anyhow!(
                "no widget {key} in {}",
                beckon_server::beckon_store::redacted(&settings.database_url)
            )
        })?;
        store.set_widget_auth(widget.id, auth.as_ref()).await?;
        match auth {
            Some(a) => println!(
                "widget {key}: visitor authentication {} (issuers: {})",
                if a.required { "required" } else { "optional" },
                a.issuers.join(", ")
            ),
            None => println!("widget {key}: visitor authentication off"),
        }
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
