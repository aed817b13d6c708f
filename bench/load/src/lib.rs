//! The load generator: opens many visitor sessions against a running Beckon server, speaking the
//! real widget protocol (hello with a page view, start_chat, send), and runs agents that accept
//! the chats and count what reaches them.
//!
//! Messages follow an **open-loop** schedule: each chatting visitor sends at fixed times whatever
//! happened to earlier messages, and latency is measured from the *scheduled* send time to the
//! moment the agent receives the message, so a stall shows up as latency instead of hiding as a
//! lower send rate (no coordinated omission). Every message carries its visitor, number and
//! scheduled time; agents count each `(conversation, seq)` once, so the report can state exactly
//! how many acknowledged messages never reached an agent (must be zero) and how many arrived twice.
//!
//! One process may hold only about 20,000 open files here, so a large test runs several client
//! processes; client sockets can be spread over several 127.0.0.x source addresses to stay clear
//! of ephemeral-port limits.

pub mod reconnect;

use anyhow::{Context as _, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Server base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    pub widget: String,
    /// Visitor sessions to open (idle ones just hold their socket).
    pub visitors: usize,
    /// How many of them chat.
    pub chatting: usize,
    /// Agent logins (each opens one console); together they must have capacity for `chatting`.
    pub agents: Vec<(String, String)>,
    /// Messages per second across all chatting visitors.
    pub rate: f64,
    /// How long messages are sent for.
    pub duration: Duration,
    /// New connections per second while ramping up.
    pub connect_rate: f64,
    /// Local addresses client sockets bind to, round-robin (empty: the OS chooses).
    pub source_ips: Vec<IpAddr>,
    /// How long to hold every session after sending stops (an idle soak).
    pub hold: Duration,
    /// Measure invite latency: save a trigger rule "N s on the page" (with these admin
    /// credentials) and time each visitor's invite against hello + N s.
    pub invite_after_s: Option<u32>,
    pub admin: Option<(String, String)>,
    /// Several nodes of a cluster: visitors connect to these in turn (empty: `url`).
    pub visitor_urls: Vec<String>,
    /// Agents' consoles connect here (`None`: `url`), e.g. another node than the visitors'.
    pub agent_url: Option<String>,
}

#[derive(Debug)]
pub struct Report {
    pub connected: usize,
    pub connect_failures: usize,
    pub disconnects: usize,
    pub sent: u64,
    pub acked: u64,
    /// Distinct visitor messages the agents received.
    pub received: u64,
    /// Messages delivered to an agent more than once (same conversation and seq).
    pub repeats: u64,
    /// Acknowledged messages no agent received.
    pub lost: u64,
    /// Microseconds, scheduled send → received by the agent.
    pub latency: Histogram<u64>,
    pub connect_time: Duration,
    /// Rule invites received, and microseconds from the moment the rule's time condition
    /// became true (hello sent + N s: an upper bound) to the invite frame arriving.
    pub invites: u64,
    pub invite_latency: Histogram<u64>,
}

impl Report {
    pub fn summary(&self) -> String {
        let q = |p: f64| self.latency.value_at_quantile(p) as f64 / 1_000.0;
        format!(
            "sessions {} connected ({} failed, {} dropped) in {:.1} s\n\
             messages sent {} acked {} received {} lost {} repeats {}\n\
             latency ms p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} (n={})",
            self.connected,
            self.connect_failures,
            self.disconnects,
            self.connect_time.as_secs_f64(),
            self.sent,
            self.acked,
            self.received,
            self.lost,
            self.repeats,
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            self.latency.max() as f64 / 1_000.0,
            self.latency.len(),
        ) + &self.invite_summary()
    }

    fn invite_summary(&self) -> String {
        if self.invites == 0 {
            return String::new();
        }
        let q = |p: f64| self.invite_latency.value_at_quantile(p) as f64 / 1_000.0;
        format!(
            "\ninvites {} latency ms p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
            self.invites,
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            self.invite_latency.max() as f64 / 1_000.0
        )
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    disconnects: AtomicUsize,
    /// Chatting visitors still in their send loop; the drain starts once this is zero, so no
    /// send is in flight (sent but not yet counted) when the counts are compared.
    sending: AtomicUsize,
    invites: Mutex<Option<Histogram<u64>>>,
}

/// What agents saw.
struct AgentSide {
    seen: Mutex<HashSet<(i64, i64)>>,
    repeats: AtomicU64,
    latency: Mutex<Histogram<u64>>,
    start: Instant,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

fn ws_url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/').replacen("http", "ws", 1))
}

async fn connect(url: &str, source: Option<IpAddr>, cookie: Option<&str>) -> anyhow::Result<Ws> {
    let mut req = url.into_client_request()?;
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse()?);
    }
    let host = req.uri().host().ok_or_else(|| anyhow!("no host in {url}"))?.to_owned();
    let port = req.uri().port_u16().unwrap_or(80);
    let addr: SocketAddr = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .next()
        .ok_or_else(|| anyhow!("cannot resolve {host}"))?;
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async(req, stream).await?;
    Ok(ws)
}

async fn next_json(ws: &mut Ws) -> anyhow::Result<Value> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str())?),
            // Say why: e.g. 1008 "client too slow" when this process could not keep up.
            Some(Ok(Message::Close(Some(f)))) => bail!("closed by the server: {} {}", f.code, f.reason),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection closed"),
        }
    }
}

async fn sign_in(base: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let res = reqwest::Client::new()
        .post(format!("{}/v1/agent/login", base.trim_end_matches('/')))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("sign-in of {email} failed: {}", res.status());
    }
    let cookie =
        res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).ok_or_else(|| anyhow!("no cookie"))?;
    Ok(cookie.split(';').next().unwrap_or_default().to_owned())
}

/// Replaces the organisation's trigger rules with one that invites every visitor after `after_s`
/// seconds on the page (any page, no agent needed), for invite-latency runs.
async fn save_invite_rule(base: &str, email: &str, password: &str, after_s: u32) -> anyhow::Result<()> {
    let cookie = sign_in(base, email, password).await?;
    let rule = json!({
        "id": 9000,
        "name": "Load test: time on page",
        "conditions": {"time_on_page": {"at_least_s": after_s}},
        "invite": {"message": "Load test invite"},
        "limits": {"frequency": "once_per_page_view", "require_free_agent": false}
    });
    let res = reqwest::Client::new()
        .put(format!("{base}/v1/admin/trigger-rules"))
        .header("cookie", cookie)
        .json(&json!({ "rules": [rule] }))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("saving the invite rule failed: {} {}", res.status(), res.text().await.unwrap_or_default());
    }
    Ok(())
}

/// An agent console: becomes available, accepts every offer, records every visitor message.
async fn run_agent(
    base: String,
    email: String,
    password: String,
    side: Arc<AgentSide>,
    ready: mpsc::Sender<()>,
) -> anyhow::Result<()> {
    let cookie = sign_in(&base, &email, &password).await?;
    let mut ws = connect(&ws_url(&base, "/v1/agent/ws"), None, Some(&cookie)).await?;
    ws.send(Message::Text(json!({"type": "presence", "status": "available"}).to_string().into())).await?;
    let _ = ready.send(()).await;
    loop {
        let f = next_json(&mut ws).await?;
        match f["type"].as_str() {
            Some("offer") => {
                let accept = json!({"type": "accept", "conversation_id": f["conversation"]["id"]});
                ws.send(Message::Text(accept.to_string().into())).await?;
            }
            Some("message") if f["message"]["sender"]["kind"] == "visitor" => {
                let m = &f["message"];
                let key = (m["conversation_id"].as_i64().unwrap_or(0), m["seq"].as_i64().unwrap_or(0));
                if !side.seen.lock().expect("seen").insert(key) {
                    side.repeats.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                // "L <visitor> <n> <scheduled µs since start>"
                if let Some(sched) =
                    m["text"].as_str().and_then(|t| t.split(' ').nth(3)).and_then(|s| s.parse::<u64>().ok())
                {
                    let now = side.start.elapsed().as_micros() as u64;
                    let _ = side.latency.lock().expect("hist").record(now.saturating_sub(sched).max(1));
                }
            }
            _ => {}
        }
    }
}

pub async fn run(cfg: LoadConfig) -> anyhow::Result<Report> {
    if cfg.chatting > cfg.visitors {
        bail!("chatting ({}) cannot exceed visitors ({})", cfg.chatting, cfg.visitors);
    }
    let start = Instant::now();
    let side = Arc::new(AgentSide {
        seen: Mutex::new(HashSet::new()),
        repeats: AtomicU64::new(0),
        latency: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        start,
    });
    let (ready_tx, mut ready_rx) = mpsc::channel(cfg.agents.len().max(1));
    let mut agent_tasks = Vec::new();
    for (email, password) in &cfg.agents {
        agent_tasks.push(tokio::spawn(run_agent(
            cfg.agent_url.clone().unwrap_or_else(|| cfg.url.clone()),
            email.clone(),
            password.clone(),
            side.clone(),
            ready_tx.clone(),
        )));
    }
    for _ in &cfg.agents {
        tokio::time::timeout(Duration::from_secs(20), ready_rx.recv())
            .await
            .context("agents did not come online")?;
    }

    if let Some(after) = cfg.invite_after_s {
        let (email, password) = cfg.admin.clone().ok_or_else(|| anyhow!("invite latency needs --admin"))?;
        save_invite_rule(&cfg.url, &email, &password, after).await?;
    }
    let counters = Arc::new(Counters {
        invites: Mutex::new(
            cfg.invite_after_s.map(|_| Histogram::new_with_bounds(1, 600_000_000, 3)).transpose()?,
        ),
        ..Counters::default()
    });
    let stop = Arc::new(tokio::sync::Notify::new());
    let (stop_sending_tx, stop_sending_rx) = tokio::sync::watch::channel(false);
    let (chat_ready_tx, mut chat_ready_rx) = mpsc::channel::<()>(cfg.chatting.max(1));
    let connect_gap = Duration::from_secs_f64(1.0 / cfg.connect_rate.max(1.0));
    let per_visitor_gap = if cfg.chatting > 0 {
        Duration::from_secs_f64(cfg.chatting as f64 / cfg.rate.max(0.001))
    } else {
        Duration::MAX
    };
    let send_start = Arc::new(Mutex::new(None::<Instant>));
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let mut connected = 0;
    let mut failures = 0;
    let mut tasks = Vec::with_capacity(cfg.visitors);
    let ramp = Instant::now();
    for i in 0..cfg.visitors {
        let source = (!cfg.source_ips.is_empty()).then(|| cfg.source_ips[i % cfg.source_ips.len()]);
        let base = if cfg.visitor_urls.is_empty() {
            &cfg.url
        } else {
            &cfg.visitor_urls[i % cfg.visitor_urls.len()]
        };
        let url = ws_url(base, "/v1/visitor/ws");
        let mut ws = match connect(&url, source, None).await {
            Ok(ws) => ws,
            Err(e) => {
                failures += 1;
                if failures <= 3 {
                    eprintln!("visitor {i}: {e:#}");
                }
                continue;
            }
        };
        let hello = json!({"type": "hello", "widget_id": cfg.widget, "page": {"url": format!("https://load.test/p/{}", i % 50), "title": "Load", "referrer": ""}});
        ws.send(Message::Text(hello.to_string().into())).await?;
        let invite_due = cfg.invite_after_s.map(|s| Instant::now() + Duration::from_secs(u64::from(s)));
        connected += 1;
        let chats = i < cfg.chatting;
        if chats {
            counters.sending.fetch_add(1, Ordering::SeqCst);
        }
        let visitor = VisitorTask {
            i,
            ws,
            chats,
            counters: counters.clone(),
            chat_ready: chat_ready_tx.clone(),
            go: go_rx.clone(),
            gap: per_visitor_gap,
            phase: if chats {
                per_visitor_gap.mul_f64(i as f64 / cfg.chatting as f64)
            } else {
                Duration::ZERO
            },
            start,
            send_start: send_start.clone(),
            stop: stop.clone(),
            stop_sending: stop_sending_rx.clone(),
            invite_due,
        };
        tasks.push(tokio::spawn(visitor.run()));
        tokio::time::sleep(connect_gap.saturating_sub(Duration::from_micros(50))).await;
    }
    let connect_time = ramp.elapsed();
    for _ in 0..cfg.chatting.min(connected) {
        tokio::time::timeout(Duration::from_secs(30), chat_ready_rx.recv())
            .await
            .context("chats were not all accepted")?;
    }
    *send_start.lock().expect("send start") = Some(Instant::now());
    let _ = go_tx.send(true);
    tokio::time::sleep(cfg.duration).await;
    let _ = stop_sending_tx.send(true);
    let drain_until = Instant::now() + Duration::from_secs(10);
    // Every send loop has left (a send it had begun is counted), then acknowledgements and
    // deliveries drain.
    while counters.sending.load(Ordering::SeqCst) > 0 && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    loop {
        let sent = counters.sent.load(Ordering::SeqCst);
        let acked = counters.acked.load(Ordering::SeqCst);
        let received = side.seen.lock().expect("seen").len() as u64;
        if (acked >= sent && received >= acked) || Instant::now() > drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(cfg.hold).await;
    stop.notify_waiters();
    for t in tasks {
        t.abort();
    }
    for t in agent_tasks {
        t.abort();
    }
    let sent = counters.sent.load(Ordering::SeqCst);
    let acked = counters.acked.load(Ordering::SeqCst);
    let received = side.seen.lock().expect("seen").len() as u64;
    let latency = side.latency.lock().expect("hist").clone();
    let invite_latency = counters.invites.lock().expect("hist").clone();
    Ok(Report {
        invites: invite_latency.as_ref().map_or(0, |h| h.len()),
        invite_latency: match invite_latency {
            Some(h) => h,
            None => Histogram::new(3)?,
        },
        connected,
        connect_failures: failures,
        disconnects: counters.disconnects.load(Ordering::SeqCst),
        sent,
        acked,
        received,
        repeats: side.repeats.load(Ordering::SeqCst),
        lost: acked.saturating_sub(received),
        latency,
        connect_time,
    })
}

struct VisitorTask {
    i: usize,
    ws: Ws,
    chats: bool,
    counters: Arc<Counters>,
    chat_ready: mpsc::Sender<()>,
    go: tokio::sync::watch::Receiver<bool>,
    gap: Duration,
    phase: Duration,
    start: Instant,
    send_start: Arc<Mutex<Option<Instant>>>,
    stop: Arc<tokio::sync::Notify>,
    /// Becomes true when sending stops.
    stop_sending: tokio::sync::watch::Receiver<bool>,
    /// When the rule's time condition becomes true for this visitor (invite latency runs).
    invite_due: Option<Instant>,
}

impl VisitorTask {
    async fn run(mut self) {
        let (mut sink, mut stream) = self.ws.split();
        let counters = self.counters.clone();
        // The reader answers pings (tungstenite does so while reading) and counts acks.
        let chats = self.chats;
        let chat_ready = self.chat_ready.clone();
        let invite_due = self.invite_due;
        let reader = tokio::spawn(async move {
            let mut active = false;
            while let Some(msg) = stream.next().await {
                let Ok(Message::Text(t)) = msg else {
                    if msg.is_err() {
                        break;
                    }
                    continue;
                };
                let Ok(f) = serde_json::from_str::<Value>(t.as_str()) else { continue };
                match f["type"].as_str() {
                    Some("ack") => {
                        counters.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Some("invite") => {
                        if let (Some(due), Some(h)) =
                            (invite_due, counters.invites.lock().expect("hist").as_mut())
                        {
                            let _ = h.record(
                                Instant::now().saturating_duration_since(due).as_micros().max(1) as u64,
                            );
                        }
                    }
                    Some("chat") if chats && !active && f["conversation"]["state"] == "active" => {
                        active = true;
                        let _ = chat_ready.send(()).await;
                    }
                    _ => {}
                }
            }
            counters.disconnects.fetch_add(1, Ordering::Relaxed);
        });
        if self.chats {
            /// Leaves the count of sending visitors however the send loop ends.
            struct Leaving<'a>(&'a AtomicUsize);
            impl Drop for Leaving<'_> {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Ordering::SeqCst);
                }
            }
            let counters = self.counters.clone();
            let _leaving = Leaving(&counters.sending);
            let start_chat = json!({"type": "start_chat", "proactive": true, "context": {"Load": {"value": self.i, "isDisplayable": true}}});
            if sink.send(Message::Text(start_chat.to_string().into())).await.is_err() {
                return;
            }
            if self.go.wait_for(|go| *go).await.is_err() {
                return;
            }
            let base = self.send_start.lock().expect("send start").expect("set before go");
            let mut n: u64 = 0;
            loop {
                let scheduled = base + self.phase + self.gap.mul_f64(n as f64);
                tokio::select! {
                    _ = tokio::time::sleep_until(scheduled.into()) => {}
                    _ = self.stop_sending.wait_for(|stop| *stop) => break,
                }
                if *self.stop_sending.borrow() {
                    break;
                }
                let sched_us = scheduled.duration_since(self.start).as_micros();
                let text = format!("L {} {} {}", self.i, n, sched_us);
                let frame =
                    json!({"type": "send", "client_msg_id": format!("l{}-{n}", self.i), "text": text});
                if sink.send(Message::Text(frame.to_string().into())).await.is_err() {
                    break;
                }
                counters.sent.fetch_add(1, Ordering::SeqCst);
                n += 1;
            }
        }
        self.stop.notified().await;
        reader.abort();
    }
}
