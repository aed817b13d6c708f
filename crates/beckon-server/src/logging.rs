//! Log setup for the `beckon` binary, with a bound on how much any one place in the code may log.
//!
//! A flood (a visitor sending frames as fast as it can, thousands of sockets from one address)
//! would otherwise turn each refused frame into a log line and fill the disk. Each event callsite
//! may log `lines_per_second` lines a second, in bursts of ten times that; lines beyond are
//! dropped and counted, and [`report_suppressed`] says how many, per place, every ten seconds.

use crate::config::LogFormat;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::callsite::Identifier;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Lines per callsite per second, with a burst allowance; counts what it drops.
pub struct CallsiteLimit {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<Identifier, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
    dropped: u64,
    place: String,
}

static LIMIT: OnceLock<&'static CallsiteLimit> = OnceLock::new();

impl CallsiteLimit {
    pub fn new(lines_per_second: u32) -> Self {
        let rate = f64::from(lines_per_second.max(1));
        Self { rate, burst: rate * 10.0, buckets: Mutex::new(HashMap::new()) }
    }

    /// Whether this event may be logged now (counted as dropped otherwise).
    pub fn allow(&self, meta: &Metadata<'_>, now: Instant) -> bool {
        let mut buckets = self.buckets.lock();
        // One entry per callsite in the program: a fixed, small set.
        let b = buckets.entry(meta.callsite()).or_insert_with(|| Bucket {
            tokens: self.burst,
            at: now,
            dropped: 0,
            place: format!("{}:{}", meta.file().unwrap_or(meta.target()), meta.line().unwrap_or(0)),
        });
        b.tokens = (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            b.dropped += 1;
            false
        }
    }

    /// The places that dropped lines since the last call, and how many each.
    pub fn take_dropped(&self) -> Vec<(String, u64)> {
        let mut buckets = self.buckets.lock();
        buckets
            .values_mut()
            .filter(|b| b.dropped > 0)
            .map(|b| (b.place.clone(), std::mem::take(&mut b.dropped)))
            .collect()
    }
}

impl<S: Subscriber> Filter<S> for &'static CallsiteLimit {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        self.allow(event.metadata(), Instant::now())
    }
}

/// Installs the global subscriber: `RUST_LOG` (default `info`, quieter for HTTP and SQL), human
/// or JSON lines on stderr, at most `lines_per_second` a second from any one place.
pub fn init(format: LogFormat, lines_per_second: u32) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,sqlx=warn"));
    let limit: &'static CallsiteLimit =
        LIMIT.get_or_init(|| Box::leak(Box::new(CallsiteLimit::new(lines_per_second))));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Pretty => fmt.boxed(),
    };
    tracing_subscriber::registry().with(filter).with(fmt.with_filter(limit)).init();
}

/// Every ten seconds, one line per place that had lines dropped (runs until `shutdown`; nothing
/// to do when [`init`] was not called, as in tests).
pub async fn report_suppressed(shutdown: CancellationToken) {
    let Some(limit) = LIMIT.get() else { return };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
        for (place, dropped) in limit.take_dropped() {
            tracing::warn!(place, dropped, "log lines dropped: too many from one place in the code");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callsite_logs_its_burst_then_its_rate_and_counts_the_rest() {
        let limit = CallsiteLimit::new(2);
        static CS: tracing::callsite::DefaultCallsite = tracing::callsite::DefaultCallsite::new(&META);
        static META: Metadata<'static> = tracing::metadata!(
            name: "test",
            target: "beckon",
            level: tracing::Level::INFO,
            fields: &[],
            callsite: &CS,
            kind: tracing::metadata::Kind::EVENT,
        );
        let t0 = Instant::now();
        let allowed = (0..100).filter(|_| limit.allow(&META, t0)).count();
        assert_eq!(allowed, 20, "a burst of ten seconds' worth");
        assert!(limit.allow(&META, t0 + Duration::from_millis(500)), "one more after half a second");
        assert!(!limit.allow(&META, t0 + Duration::from_millis(500)));
        let dropped = limit.take_dropped();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].1, 81);
        assert!(limit.take_dropped().is_empty(), "reported once");
    }
}
