//! The restart test's client side: many idle widgets that, like the real widget, reconnect when
//! their socket drops — exponential backoff with jitter — and resume (`hello` with their visitor
//! token, `reconnect: true`, `last_seq`). It measures how long the whole population takes to be
//! back (welcome received) after the server went away, which is what a deploy costs.

use crate::{connect, next_json, ws_url};
use anyhow::{Context as _, bail};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::json;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone)]
pub struct ReconnectConfig {
    pub url: String,
    pub widget: String,
    pub visitors: usize,
    pub connect_rate: f64,
    pub source_ips: Vec<IpAddr>,
    /// The widget's backoff: first retry within this, doubling per failure up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Give up waiting for everyone to be back after this long.
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct ReconnectReport {
    pub connected: usize,
    pub dropped: usize,
    pub back: usize,
    /// From the first drop to the last visitor back.
    pub all_back_after: Option<Duration>,
    /// Per visitor, drop → welcome, in milliseconds.
    pub per_visitor_ms: Histogram<u64>,
    pub attempts: u64,
}

impl ReconnectReport {
    pub fn summary(&self) -> String {
        let q = |p: f64| self.per_visitor_ms.value_at_quantile(p);
        format!(
            "visitors {} connected, {} dropped, {} back ({} connection attempts)\n\
             all back {} after the first drop; per visitor ms p50 {} p90 {} p99 {} max {}",
            self.connected,
            self.dropped,
            self.back,
            self.attempts,
            self.all_back_after.map_or("never".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
            q(0.5),
            q(0.9),
            q(0.99),
            self.per_visitor_ms.max(),
        )
    }
}

#[derive(Default)]
struct Shared {
    first_drop: Option<Instant>,
    last_back: Option<Instant>,
    dropped: usize,
    back: usize,
    attempts: u64,
    connect_errors: u64,
    refused: u64,
}

/// Connects everyone, calls `ready` (the caller restarts the server then), and waits until every
/// visitor has dropped and come back, or the timeout.
pub async fn run(cfg: ReconnectConfig, ready: impl FnOnce()) -> anyhow::Result<ReconnectReport> {
    let url = ws_url(&cfg.url, "/v1/visitor/ws");
    let shared = Arc::new(Mutex::new(Shared::default()));
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1, 3_600_000, 3)?));
    let gap = Duration::from_secs_f64(1.0 / cfg.connect_rate.max(1.0));
    let mut tasks = Vec::with_capacity(cfg.visitors);
    for i in 0..cfg.visitors {
        let source = (!cfg.source_ips.is_empty()).then(|| cfg.source_ips[i % cfg.source_ips.len()]);
        let mut ws = connect(&url, source, None).await.with_context(|| format!("visitor {i} connects"))?;
        let page = json!({"url": format!("https://load.test/p/{}", i % 50), "title": "Load", "referrer": ""});
        let hello = json!({"type": "hello", "widget_id": cfg.widget, "page": page});
        ws.send(Message::Text(hello.to_string().into())).await?;
        let welcome = next_json(&mut ws).await?;
        if welcome["type"] != "welcome" {
            bail!("visitor {i}: {welcome}");
        }
        let token = welcome["visitor_token"].as_str().unwrap_or_default().to_owned();
        let (url, widget, shared, hist) = (url.clone(), cfg.widget.clone(), shared.clone(), hist.clone());
        let (base, cap) = (cfg.backoff_base, cfg.backoff_cap);
        tasks.push(tokio::spawn(async move {
            // Hold the socket until the server goes away (pings are answered while reading).
            while let Some(Ok(_)) = ws.next().await {}
            drop(ws); // its descriptor is needed for the reconnect
            let dropped_at = Instant::now();
            {
                let mut s = shared.lock().expect("shared");
                s.dropped += 1;
                s.first_drop.get_or_insert(dropped_at);
            }
            let mut delay = base;
            loop {
                // Full jitter in [delay/2, delay], like the widget.
                let wait = delay.mul_f64(0.5 + rand::random::<f64>() * 0.5);
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(cap);
                shared.lock().expect("shared").attempts += 1;
                let mut ws = match connect(&url, source, None).await {
                    Ok(ws) => ws,
                    Err(e) => {
                        let mut s = shared.lock().expect("shared");
                        s.connect_errors += 1;
                        if s.connect_errors <= 3 {
                            eprintln!("reconnect failed: {e:#}");
                        }
                        continue;
                    }
                };
                let hello = json!({"type": "hello", "widget_id": widget, "visitor_token": token,
                                   "page": page, "reconnect": true, "last_seq": 0});
                if ws.send(Message::Text(hello.to_string().into())).await.is_err() {
                    continue;
                }
                match next_json(&mut ws).await {
                    Ok(f) if f["type"] == "welcome" => {
                        let now = Instant::now();
                        let _ = hist
                            .lock()
                            .expect("hist")
                            .record(now.duration_since(dropped_at).as_millis().max(1) as u64);
                        {
                            let mut s = shared.lock().expect("shared");
                            s.back += 1;
                            s.last_back = Some(now);
                        }
                        // Stay connected until the run ends.
                        while let Some(Ok(_)) = ws.next().await {}
                        return;
                    }
                    other => {
                        let mut s = shared.lock().expect("shared");
                        s.refused += 1;
                        if s.refused <= 3 {
                            eprintln!("hello not welcomed: {other:?}");
                        }
                        continue;
                    }
                }
            }
        }));
        tokio::time::sleep(gap.saturating_sub(Duration::from_micros(50))).await;
    }
    let connected = tasks.len();
    ready();
    let deadline = Instant::now() + cfg.timeout;
    loop {
        let back = shared.lock().expect("shared").back;
        if back >= connected || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in &tasks {
        t.abort();
    }
    let s = shared.lock().expect("shared");
    Ok(ReconnectReport {
        connected,
        dropped: s.dropped,
        back: s.back,
        all_back_after: match (s.first_drop, s.last_back) {
            (Some(d), Some(b)) if s.back >= connected => Some(b.duration_since(d)),
            _ => None,
        },
        per_visitor_ms: hist.lock().expect("hist").clone(),
        attempts: s.attempts,
    })
}
