//! How many messages per second the store makes durable (SQLite: `synchronous=FULL`, WAL, group
//! commit; PostgreSQL: `synchronous_commit` on, group commit), with many writers at once — the
//! storage half of the latency budget, measured without the network. Each writer appends to its
//! own conversation in a closed loop (the next append starts when the previous one is
//! acknowledged, i.e. committed), as a busy visitor would.
//!
//! `cargo run --release -p beckon-load --bin store-throughput -- [WRITERS] [SECONDS] [DB_DIR | PG_URL]`
//!
//! `PG_URL` (`postgres://user@host/name`) names a database that does not exist yet: the bench
//! creates it, and drops it at the end.

use beckon_domain::message::{MessageText, NewMessage, Sender};
use beckon_domain::model::WidgetSettings;
use beckon_domain::{ClientMsgId, Context, Timestamp, VisitorId, WidgetKey};
use beckon_store::{NewConversation, NewWidget};
use hdrhistogram::Histogram;
use sqlx::migrate::MigrateDatabase;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let writers: usize = args.get(1).map_or(Ok(512), |s| s.parse())?;
    let seconds: u64 = args.get(2).map_or(Ok(10), |s| s.parse())?;
    let target = args.get(3).cloned();
    let postgres =
        target.as_deref().filter(|t| t.starts_with("postgres://") || t.starts_with("postgresql://"));
    let dir = match &target {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("beckon-store-bench-{}", std::process::id())),
    };
    let url = match postgres {
        Some(url) => {
            if sqlx::Postgres::database_exists(url).await? {
                anyhow::bail!("{url} exists: name a database that does not, the bench creates and drops it");
            }
            url.to_owned()
        }
        None => {
            std::fs::create_dir_all(&dir)?;
            format!("sqlite://{}", dir.join("bench.db").display())
        }
    };
    let store = beckon_store::connect(&url).await?;
    let t = Timestamp(1_000);
    let org = store.create_org("Bench", t).await?;
    let queue = store.create_queue(org.id, "General", t).await?;
    let widget = store
        .create_widget(
            NewWidget {
                org_id: org.id,
                key: WidgetKey::parse("bench-widget").expect("valid key"),
                name: "Bench".into(),
                allowed_origins: vec!["*".into()],
                default_queue_id: Some(queue.id),
                settings: WidgetSettings::default(),
                auth: None,
            },
            t,
        )
        .await?;
    let mut conversations = Vec::with_capacity(writers);
    for i in 0..writers {
        let new = beckon_store::NewVisitor {
            id: VisitorId((1 << 40) + i as i64),
            widget_id: widget.id,
            token_hash: format!("bench-{i}"),
            arrived_at: t,
            meta: Default::default(),
            first_page: None,
        };
        let (v, _) = store.create_visitor(new, t).await?;
        let c = store
            .create_conversation(
                NewConversation {
                    org_id: org.id,
                    widget_id: widget.id,
                    visitor_id: v.id,
                    queue_id: Some(queue.id),
                    proactive: false,
                    invite_id: None,
                    context: Context::default(),
                    auth_sub: None,
                    auth_iss: None,
                    reply_email: None,
                    leave_message_at: None,
                    language: "en".into(),
                    visitor_name: None,
                },
                t,
            )
            .await?;
        conversations.push(c.id);
    }
    println!(
        "{writers} writers, {seconds} s, database {}",
        postgres.map_or(dir.display().to_string(), str::to_owned)
    );
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (w, c) in conversations.into_iter().enumerate() {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
            let mut n = 0u64;
            while Instant::now() < deadline {
                let m = NewMessage {
                    conversation_id: c,
                    sender: Sender::visitor(),
                    text: MessageText::parse(&format!(
                        "message {n} from writer {w}: a typical short chat line"
                    ))
                    .expect("valid text"),
                    tags: vec![],
                    client_msg_id: Some(ClientMsgId::parse(&format!("w{w}-{n}")).expect("valid id")),
                    attachment: None,
                };
                let began = Instant::now();
                store.append_message(m, Timestamp(2_000)).await.expect("append");
                let _ = hist.record(began.elapsed().as_micros().max(1) as u64);
                n += 1;
            }
            (n, hist)
        }));
    }
    let mut total = 0u64;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for t in tasks {
        let (n, h) = t.await?;
        total += n;
        hist.add(h)?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1_000.0;
    println!(
        "{total} messages in {elapsed:.1} s = {:.0} msg/s durable; append latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        total as f64 / elapsed,
        ms(0.5),
        ms(0.99),
        ms(0.999),
        hist.max() as f64 / 1_000.0
    );
    if let Some(url) = postgres {
        drop(store);
        sqlx::Postgres::force_drop_database(url).await?;
    } else if target.is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
