//! Properties of the evaluator that must hold for any rules, facts and history: frequency caps
//! hold when the server records what it showed, disabled rules stay silent, `all`/`any`/`not` are
//! boolean algebra, `explain` agrees with `evaluate`, and `next_check_at` is a true lower bound
//! (nothing changes before it if only the clock moves).

use beckon_domain::{QueueId, Timestamp};
use beckon_triggers::{
    ConditionTrace, CountryCode, DeviceType, EngineSettings, Evaluation, ExitIntent, Facts, History,
    QueueFacts, Rule, RuleId, RuleSet, Stopwatch, Verdict, evaluate, explain,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const DAY: i64 = 86_400_000;
/// 2024-03-30T12:00:00Z: a day before Europe's spring-forward, so DST edges get exercised.
const T0: i64 = 1_711_800_000_000;

fn rule_json(id: i64, conditions: Value, extra: Value) -> Rule {
    let mut v = json!({"id": id, "name": format!("rule {id}"), "conditions": conditions,
        "invite": {"message": "Hi"}, "limits": {"require_free_agent": false}});
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    Rule::from_json_value(&v).unwrap_or_else(|e| panic!("{e}: {v}"))
}

fn open_queue() -> QueueFacts {
    QueueFacts { in_operating_hours: true, has_free_agent: true, ..QueueFacts::default() }
}

fn no_budget() -> EngineSettings {
    EngineSettings { max_invites_per_visit: None, max_invites_per_day: None, ..EngineSettings::default() }
}

// ---------- boolean algebra ----------

#[derive(Debug, Clone)]
enum Tree {
    Leaf(usize),
    All(Vec<Tree>),
    Any(Vec<Tree>),
    Not(Box<Tree>),
}

impl Tree {
    fn json(&self) -> Value {
        match self {
            Tree::Leaf(0) => json!({"authenticated": true}),
            Tree::Leaf(1) => json!({"country": ["FR"]}),
            Tree::Leaf(2) => json!({"returning": true}),
            Tree::Leaf(_) => json!({"device": ["mobile"]}),
            Tree::All(cs) => json!({"all": cs.iter().map(Tree::json).collect::<Vec<_>>()}),
            Tree::Any(cs) => json!({"any": cs.iter().map(Tree::json).collect::<Vec<_>>()}),
            Tree::Not(c) => json!({"not": c.json()}),
        }
    }
    /// The documented meaning: `all` of nothing holds, `any` of nothing does not.
    fn model(&self, leaves: &[bool; 4]) -> bool {
        match self {
            Tree::Leaf(i) => leaves[*i],
            Tree::All(cs) => cs.iter().all(|c| c.model(leaves)),
            Tree::Any(cs) => cs.iter().any(|c| c.model(leaves)),
            Tree::Not(c) => !c.model(leaves),
        }
    }
    fn check_trace(&self, t: &ConditionTrace, leaves: &[bool; 4]) {
        assert_eq!(t.holds, self.model(leaves), "{} in {self:?}", t.description);
        let children: Vec<&Tree> = match self {
            Tree::Leaf(_) => vec![],
            Tree::All(cs) | Tree::Any(cs) => cs.iter().collect(),
            Tree::Not(c) => vec![&**c],
        };
        assert_eq!(children.len(), t.children.len());
        for (c, ct) in children.into_iter().zip(&t.children) {
            c.check_trace(ct, leaves);
        }
    }
}

fn tree() -> impl Strategy<Value = Tree> {
    (0usize..4).prop_map(Tree::Leaf).prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Tree::All),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Tree::Any),
            inner.prop_map(|t| Tree::Not(Box::new(t))),
        ]
    })
}

fn facts_for(leaves: &[bool; 4]) -> Facts {
    let code = if leaves[1] { "FR" } else { "US" };
    let mut f = Facts {
        now: Timestamp(T0),
        authenticated: leaves[0],
        country: Some(CountryCode::parse(code).unwrap()),
        visit_number: if leaves[2] { 3 } else { 1 },
        device: Some(if leaves[3] { DeviceType::Mobile } else { DeviceType::Desktop }),
        default_queue: Some(QueueId(1)),
        ..Facts::default()
    };
    f.queues.insert(QueueId(1), open_queue());
    f
}

proptest! {
    #[test]
    fn all_any_not_are_boolean_algebra(t in tree(), leaves in any::<[bool; 4]>()) {
        let set = RuleSet::new(vec![rule_json(1, t.json(), json!({}))]);
        let f = facts_for(&leaves);
        let traces = explain(&set, &no_budget(), &f, &History::default());
        t.check_trace(&traces[0].conditions, &leaves);
        let e = evaluate(&set, &no_budget(), &f, &History::default());
        prop_assert_eq!(e.fire.is_some(), t.model(&leaves));
        prop_assert_eq!(e.next_check_at, None, "no leaf here depends on the clock");
    }
}

// ---------- frequency caps ----------

#[derive(Debug, Clone, Copy)]
enum Step {
    Wait(i64),
    NewPage(i64),
    NewVisit(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0i64..3 * DAY).prop_map(Step::Wait),
        (0i64..600_000).prop_map(Step::NewPage),
        (1_800_000i64..2 * DAY).prop_map(Step::NewVisit),
    ]
}

fn frequency() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("once_per_page_view")),
        Just(json!("once_per_visit")),
        Just(json!("once_per_visitor")),
        (1u32..4).prop_map(|d| json!({"once_per_days": d})),
    ]
}

proptest! {
    #[test]
    fn a_rule_never_fires_twice_within_its_frequency(freq in frequency(), steps in prop::collection::vec(step(), 1..40)) {
        let set = RuleSet::new(vec![rule_json(7, json!({"all": []}), json!({"limits": {"frequency": freq.clone(), "require_free_agent": false}}))]);
        let s = no_budget();
        let mut f = facts_for(&[false; 4]);
        f.visit_started_at = f.now;
        f.page.started_at = f.now;
        let mut h = History::default();
        let mut page_starts = vec![f.now];
        let mut visit_starts = vec![f.now];
        let mut fired: Vec<Timestamp> = vec![];
        for st in steps {
            match st {
                Step::Wait(ms) => f.now = f.now.plus_millis(ms),
                Step::NewPage(ms) => {
                    f.now = f.now.plus_millis(ms);
                    f.page.started_at = f.now;
                    page_starts.push(f.now);
                }
                Step::NewVisit(ms) => {
                    f.now = f.now.plus_millis(ms);
                    f.visit_started_at = f.now;
                    f.page.started_at = f.now;
                    page_starts.push(f.now);
                    visit_starts.push(f.now);
                }
            }
            // The server may evaluate several times at one instant (events in a burst).
            for _ in 0..2 {
                if let Some(fire) = evaluate(&set, &s, &f, &h).fire {
                    prop_assert_eq!(fire.rule_id, RuleId(7));
                    fired.push(f.now);
                    h.record_shown(fire.rule_id, f.now);
                }
            }
        }
        prop_assert!(!fired.is_empty(), "nothing was shown yet at the first step, so the rule fires");
        for w in fired.windows(2) {
            let (a, b) = (w[0], w[1]);
            let between = |starts: &[Timestamp]| starts.iter().any(|t| *t > a && *t <= b);
            match freq.as_str() {
                Some("once_per_page_view") => prop_assert!(between(&page_starts), "{a:?} {b:?}"),
                Some("once_per_visit") => prop_assert!(between(&visit_starts), "{a:?} {b:?}"),
                Some(_) => prop_assert!(false, "once per visitor fired twice"),
                None => {
                    let days = freq["once_per_days"].as_i64().unwrap();
                    prop_assert!(b.since(a) >= days * DAY, "{a:?} {b:?}");
                }
            }
        }
    }
}

// ---------- random rule sets over time-dependent facts ----------

fn hhmm() -> impl Strategy<Value = String> {
    (0u16..=24, prop::sample::select(vec![0u16, 15, 30, 59])).prop_map(|(h, m)| {
        let m = if h == 24 { 0 } else { m };
        format!("{h:02}:{m:02}")
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u32..90).prop_map(|s| json!({"time_on_page": {"at_least_s": s}})),
        (0u32..600).prop_map(|s| json!({"time_on_site": {"at_least_s": s}})),
        (0u32..30).prop_map(|s| json!({"exit_intent": {"after_s": s}})),
        (
            prop::sample::select(vec!["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]),
            hhmm(),
            hhmm(),
            prop::sample::subsequence(vec!["mon", "tue", "wed", "thu", "fri", "sat", "sun"], 0..=7),
        )
            .prop_filter("from must differ from to and not be 24:00", |(_, a, b, _)| a != b && a != "24:00")
            .prop_map(|(tz, from, to, days)| json!({"local_time": {"time_zone": tz, "from": from, "to": to, "weekdays": days}})),
        Just(json!({"country": ["FR"]})),
        any::<bool>().prop_map(|b| json!({"authenticated": b})),
    ]
}

fn conditions() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({"all": v})),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({"any": v})),
            inner.prop_map(|c| json!({"not": c})),
        ]
    })
}

fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

fn a_rule(id: i64) -> impl Strategy<Value = Rule> {
    (
        conditions(),
        0i32..3,
        prop::bool::weighted(0.9),
        frequency(),
        any::<bool>(),
        prop::option::weighted(0.3, (-2 * DAY..2 * DAY, 1i64..2 * DAY)),
    )
        .prop_map(move |(c, priority, enabled, freq, free_agent, window)| {
            let mut extra = json!({"priority": priority, "enabled": enabled,
                "limits": {"frequency": freq, "require_free_agent": free_agent}});
            if let Some((from, len)) = window {
                extra["date_window"] = json!({"from": iso(T0 + from), "to": iso(T0 + from + len)});
            }
            rule_json(id, c, extra)
        })
}

fn rules() -> impl Strategy<Value = Vec<Rule>> {
    (1usize..7).prop_flat_map(|n| (1..=n as i64).map(a_rule).collect::<Vec<_>>())
}

fn stopwatch() -> impl Strategy<Value = Stopwatch> {
    (0i64..200_000, prop::option::of(-300_000i64..5_000)).prop_map(|(acc, since)| Stopwatch {
        accumulated_ms: acc,
        running_since: since.map(|s| Timestamp(T0 + s)),
    })
}

fn a_facts() -> impl Strategy<Value = Facts> {
    (
        (-3 * DAY..3 * DAY),
        stopwatch(),
        stopwatch(),
        prop::option::of((-20_000i64..2_000, 0i64..60_000)),
        any::<bool>(),
        any::<bool>(),
        (any::<bool>(), any::<bool>(), prop::option::of(0u32..300), 0u32..5),
        (0i64..600_000, 0i64..3_600_000),
    )
        .prop_map(
            |(shift, page, site, exit, fr, auth, (hours, free, wait, pace), (page_age, visit_age))| {
                let now = Timestamp(T0 + shift);
                let mut f = Facts {
                    now,
                    authenticated: auth,
                    country: Some(CountryCode::parse(if fr { "FR" } else { "US" }).unwrap()),
                    time_on_site: site,
                    visit_started_at: Timestamp(now.0 - visit_age - page_age),
                    default_queue: Some(QueueId(1)),
                    ..Facts::default()
                };
                // Stopwatches are stamped relative to T0; move them with `now`.
                let shifted = |s: Stopwatch| Stopwatch {
                    running_since: s.running_since.map(|t| t.plus_millis(shift)),
                    ..s
                };
                f.time_on_site = shifted(f.time_on_site);
                f.page.started_at = Timestamp(now.0 - page_age);
                f.page.visible = shifted(page);
                f.page.exit_intent =
                    exit.map(|(ago, vis)| ExitIntent { at: now.plus_millis(ago), visible_ms_on_page: vis });
                f.queues.insert(
                    QueueId(1),
                    QueueFacts {
                        in_operating_hours: hours,
                        has_free_agent: free,
                        predicted_wait_s: wait,
                        invites_last_minute: pace,
                    },
                );
                f
            },
        )
}

fn a_history(now_shift_hint: i64) -> impl Strategy<Value = History> {
    (
        prop::collection::vec(-2 * DAY..0i64, 0..5),
        prop::collection::vec((1i64..7, -5 * DAY..0i64), 0..4),
        0u32..4,
        -3_600_000i64..0,
    )
        .prop_map(move |(shown, per_rule, dismissals, dismissed_ago)| {
            let base = T0 + now_shift_hint;
            let mut h = History::default();
            for s in shown {
                h.record_shown_other(Timestamp(base + s));
            }
            for (id, at) in per_rule {
                h.record_shown(RuleId(id), Timestamp(base + at));
            }
            for i in 0..dismissals {
                h.record_dismissed(None, Timestamp(base + dismissed_ago + i64::from(i)));
            }
            h
        })
}

fn a_settings() -> impl Strategy<Value = EngineSettings> {
    (
        prop::option::of(0u32..4),
        prop::option::of(0u32..6),
        1i64..600_000,
        prop::option::of(1u32..5),
        1_000i64..10_000,
    )
        .prop_map(|(visit, day, cooldown, pacing, exit)| EngineSettings {
            exit_intent_window_ms: exit,
            max_invites_per_visit: visit,
            max_invites_per_day: day,
            dismissal_cooldown_ms: cooldown,
            dismissal_cooldown_max_ms: 3_600_000,
            max_invites_per_queue_per_minute: pacing,
            ..EngineSettings::default()
        })
}

fn case() -> impl Strategy<Value = (Vec<Rule>, Facts, History, EngineSettings)> {
    (rules(), a_facts(), a_settings()).prop_flat_map(|(r, f, s)| {
        let shift = f.now.0 - T0;
        (Just(r), Just(f), a_history(shift), Just(s))
    })
}

fn fired(e: &Evaluation) -> Option<RuleId> {
    e.fire.as_ref().map(|f| f.rule_id)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn next_check_at_is_a_lower_bound((rules, f, h, s) in case(), samples in prop::collection::vec(0.0f64..1.0, 4)) {
        let set = RuleSet::new(rules);
        let e = evaluate(&set, &s, &f, &h);
        let horizon = match e.next_check_at {
            Some(t) => {
                prop_assert!(t > f.now, "next_check_at {t:?} is not after now {:?}", f.now);
                t.0
            }
            None => f.now.0 + 30 * DAY,
        };
        let mut instants: Vec<i64> = samples.iter().map(|x| f.now.0 + ((horizon - f.now.0 - 1) as f64 * x) as i64).collect();
        instants.push(horizon - 1);
        for at in instants {
            let later = Facts { now: Timestamp(at), ..f.clone() };
            let e2 = evaluate(&set, &s, &later, &h);
            prop_assert_eq!(&e2.fire, &e.fire, "changed at {} (now {}, next_check_at {:?})", at, f.now.0, e.next_check_at);
        }
    }

    #[test]
    fn explain_agrees_with_evaluate((rules, f, h, s) in case()) {
        let set = RuleSet::new(rules);
        let e = evaluate(&set, &s, &f, &h);
        let traces = explain(&set, &s, &f, &h);
        prop_assert_eq!(traces.len(), set.len());
        let winner = traces.iter().find(|t| t.verdict == Verdict::WouldFire).map(|t| t.rule_id);
        prop_assert_eq!(winner, fired(&e));
        let before_winner = traces.iter().take_while(|t| t.verdict != Verdict::WouldFire);
        let suppressed: Vec<_> = before_winner
            .filter_map(|t| match &t.verdict {
                Verdict::Suppressed { reason } => Some((t.rule_id, reason.clone())),
                _ => None,
            })
            .collect();
        let from_evaluate: Vec<_> = e.suppressed.iter().map(|s| (s.rule_id, s.reason.clone())).collect();
        prop_assert_eq!(suppressed, from_evaluate);
    }

    #[test]
    fn disabling_a_rule_stops_it((rules, f, h, s) in case(), pick in any::<prop::sample::Index>()) {
        let victim = rules[pick.index(rules.len())].id;
        let before = evaluate(&RuleSet::new(rules.clone()), &s, &f, &h);
        let disabled: Vec<Rule> = rules
            .into_iter()
            .map(|mut r| {
                if r.id == victim {
                    r.enabled = false;
                }
                r
            })
            .collect();
        let set = RuleSet::new(disabled);
        let after = evaluate(&set, &s, &f, &h);
        prop_assert_ne!(fired(&after), Some(victim));
        prop_assert!(after.suppressed.iter().all(|x| x.rule_id != victim));
        if fired(&before) != Some(victim) {
            prop_assert_eq!(fired(&after), fired(&before), "disabling a rule that did not fire changes nothing");
        }
        let trace = explain(&set, &s, &f, &h).into_iter().find(|t| t.rule_id == victim).unwrap();
        prop_assert_eq!(trace.verdict, Verdict::Disabled);
    }
}

proptest! {
    #[test]
    fn export_then_import_gives_the_same_rules(rules in rules()) {
        let exported = serde_json::to_string_pretty(&rules).unwrap();
        let imported = beckon_triggers::rules_from_json(&exported).unwrap();
        prop_assert_eq!(&imported, &rules);
        prop_assert_eq!(serde_json::to_string_pretty(&imported).unwrap(), exported);
    }
}
