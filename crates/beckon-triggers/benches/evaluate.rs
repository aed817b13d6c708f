//! What one visitor event costs: `evaluate` over 50 active, realistic rules (URL globs and regexes,
//! time on page and site, context, country, local business hours, UTM, custom events), for a
//! visitor on a product page. The server runs this for every event of every connected visitor, so
//! the budget is a few microseconds. Results and the command line go to docs/benchmarks.md.
//!
//! Each case is measured twice: in wall-clock time (criterion's default) and in CPU time of the
//! benchmarking thread. On a shared machine the wall clock also counts the time other processes
//! hold the CPU; the CPU-time figure is the cost of an evaluation itself.

use beckon_domain::{Context, QueueId, Timestamp};
use beckon_triggers::{
    CountryCode, EngineSettings, Facts, History, QueueFacts, Rule, RuleId, RuleSet, Stopwatch, evaluate,
};
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::hint::black_box;

const CATEGORIES: [&str; 10] =
    ["laptops", "tablets", "phones", "audio", "gaming", "cameras", "tv", "watches", "printers", "storage"];

fn conditions(i: usize) -> Value {
    let cat = CATEGORIES[i % CATEGORIES.len()];
    match i % 5 {
        0 => json!({"all": [
            {"page_url": {"op": "glob", "value": format!("*/products/{cat}/*")}},
            {"time_on_page": {"at_least_s": 10 + i}}
        ]}),
        1 => json!({"all": [
            {"page_url": {"op": "regex", "value": format!(r"^https://shop\.example/(support|docs)/{cat}/\d+")}},
            {"referrer": {"op": "contains", "value": "/faq", "ignore_case": true}},
            {"time_on_page": {"at_least_s": 15}}
        ]}),
        2 => json!({"all": [
            {"context": {"name": "Plan", "op": "equals", "value": format!("plan-{i}")}},
            {"context": {"name": "Cart total", "op": "ge", "value": 100 + i}},
            {"time_on_site": {"at_least_s": 60}}
        ]}),
        3 => json!({"all": [
            {"country": ["DE", "AT", "CH"]},
            {"page_url": {"op": "contains", "value": format!("/{cat}/")}},
            {"local_time": {"time_zone": "Europe/Berlin", "from": "09:00", "to": "18:00",
                "weekdays": ["mon", "tue", "wed", "thu", "fri"]}}
        ]}),
        _ => json!({"all": [
            {"any": [
                {"utm": {"param": "campaign", "op": "glob", "value": format!("{cat}-*")}},
                {"event": {"name": format!("compare_{cat}"), "at_least": 2}}
            ]},
            {"not": {"authenticated": true}},
            {"page_views_total": {"op": "ge", "value": 3}}
        ]}),
    }
}

fn rules() -> Vec<Rule> {
    (0..50)
        .map(|i| {
            let frequency = ["once_per_visit", "once_per_page_view", "once_per_visitor"][i % 3];
            let mut v = json!({
                "id": i + 1,
                "name": format!("rule {}", i + 1),
                "priority": (i % 7) as i32,
                "conditions": conditions(i),
                "invite": {"message": if i % 4 == 0 { "Hi {context:Name}, can I help?" } else { "Hi! Can I help?" }},
                "limits": {"frequency": frequency, "max_wait_s": 300}
            });
            if i % 10 == 9 {
                v["date_window"] = json!({"from": "2024-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"});
            }
            Rule::from_json_value(&v).expect("valid bench rule")
        })
        .collect()
}

/// A visitor 8 s into a product page, 45 s into the visit (Wednesday 2024-06-05, 10:00 UTC).
fn visitor() -> Facts {
    let start = Timestamp(1_717_581_555_000);
    let now = start.plus_millis(45_000);
    let mut f = Facts {
        now,
        visit_started_at: start,
        time_on_site: Stopwatch::started(start),
        page_views_total: 4,
        visit_number: 2,
        country: Some(CountryCode::parse("FR").unwrap()),
        language: Some("fr-FR".into()),
        context: Context::parse(&json!({"Name": "Ada", "Plan": "plan-7", "Cart total": 80})).unwrap(),
        default_queue: Some(QueueId(1)),
        ..Facts::default()
    };
    f.page.url = "https://shop.example/products/laptops/surface-book-3?ref=nav".into();
    f.page.title = "Surface Book 3".into();
    f.page.referrer = "https://www.search.example/?q=surface+book".into();
    f.page.started_at = now.plus_millis(-8_000);
    f.page.visible = Stopwatch::started(now.plus_millis(-8_000));
    f.utm.campaign = Some("summer-sale".into());
    f.events.insert("compare_tablets".into(), 1);
    f.queues.insert(
        QueueId(1),
        QueueFacts {
            in_operating_hours: true,
            has_free_agent: true,
            predicted_wait_s: Some(40),
            invites_last_minute: 2,
        },
    );
    f
}

/// Nanoseconds this thread has spent on a CPU (Linux's scheduler statistics; 0 elsewhere).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time of the benchmarking thread, as a criterion measurement. The counter is updated at
/// scheduler ticks, so it is only meaningful over samples of many iterations (see `Flat` below).
struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanoseconds
    }
}

struct Nanoseconds;

impl ValueFormatter for Nanoseconds {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical < 1e3 {
            (1.0, "ns")
        } else if typical < 1e6 {
            (1e3, "µs")
        } else {
            (1e6, "ms")
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, _t: &Throughput, _values: &mut [f64]) -> &'static str {
        "ns"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn wall(c: &mut Criterion) {
    bench(c, "wall");
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    bench(c, "cpu");
}

fn bench<M: Measurement>(c: &mut Criterion<M>, clock: &str) {
    let set = RuleSet::new(rules());
    let settings = EngineSettings::default();
    let mut history = History::default();
    history.record_shown(RuleId(11), Timestamp(1_717_500_000_000));

    let waiting = visitor();
    let e = evaluate(&set, &settings, &waiting, &history);
    assert!(e.fire.is_none() && e.next_check_at.is_some(), "the typical event: nothing yet, a timer to arm");
    let mut g = c.benchmark_group(format!("{clock}/evaluate 50 rules"));
    // Equal samples: the scheduler's CPU-time counter advances in ticks, so every sample must be
    // long enough (tens of milliseconds) to be measured at all.
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("nothing fires yet", |b| {
        b.iter(|| evaluate(black_box(&set), &settings, black_box(&waiting), &history))
    });

    let mut ready = visitor();
    ready.now = ready.now.plus_millis(20_000);
    let e = evaluate(&set, &settings, &ready, &history);
    assert!(e.fire.is_some(), "twenty seconds later a laptops rule fires");
    g.bench_function("one fires", |b| {
        b.iter(|| evaluate(black_box(&set), &settings, black_box(&ready), &history))
    });
    g.finish();
}

criterion_group!(wall_clock, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = cpu
}
criterion_main!(wall_clock, cpu_time);
