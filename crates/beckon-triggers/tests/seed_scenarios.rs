//! The seed's eight proactive-chat scenarios, written as no-code rules (`data/seed_scenarios.json`)
//! instead of page scripts: each rule fires exactly when its scenario says, and `next_check_at`
//! names the instant the server's timer must wake for it.

use beckon_domain::{Context, QueueId, Timestamp};
use beckon_triggers::{
    CountryCode, EngineSettings, Evaluation, ExitIntent, Facts, History, QueueFacts, Rule, RuleId, RuleSet,
    Stopwatch, SuppressReason, evaluate, rules_from_json,
};
use serde_json::json;

/// 2024-06-03T10:00:00Z, a Monday, outside the holiday sale.
const T0: i64 = 1_717_408_800_000;

fn seed_rules() -> Vec<Rule> {
    rules_from_json(include_str!("data/seed_scenarios.json")).expect("the seed rules parse")
}

fn only(id: i64) -> RuleSet {
    RuleSet::new(seed_rules().into_iter().filter(|r| r.id == RuleId(id)).collect())
}

/// A visitor who opened `url` at `T0` and has kept it visible since, seen at `T0 + at_ms`.
fn visitor(url: &str, at_ms: i64) -> Facts {
    let mut f = Facts {
        now: Timestamp(T0 + at_ms),
        visit_started_at: Timestamp(T0),
        time_on_site: Stopwatch::started(Timestamp(T0)),
        default_queue: Some(QueueId(1)),
        ..Facts::default()
    };
    f.page.url = url.to_owned();
    f.page.started_at = Timestamp(T0);
    f.page.visible = Stopwatch::started(Timestamp(T0));
    let open = QueueFacts { in_operating_hours: true, has_free_agent: true, ..QueueFacts::default() };
    f.queues.insert(QueueId(1), open);
    f.queues.insert(QueueId(2), open);
    f
}

fn at(f: &Facts, at_ms: i64) -> Facts {
    Facts { now: Timestamp(T0 + at_ms), ..f.clone() }
}

fn run(set: &RuleSet, f: &Facts, h: &History) -> Evaluation {
    evaluate(set, &EngineSettings::default(), f, h)
}

fn fired(e: &Evaluation) -> Option<i64> {
    e.fire.as_ref().map(|f| f.rule_id.0)
}

const PRODUCT: &str = "https://shop.example/products/surface-book";

#[test]
fn scenario_1_twenty_seconds_on_a_product_page() {
    let set = only(1);
    let h = History::default();
    let f = visitor(PRODUCT, 3_000);
    let e = run(&set, &f, &h);
    assert_eq!((fired(&e), e.next_check_at), (None, Some(Timestamp(T0 + 20_000))));
    assert_eq!(fired(&run(&set, &at(&f, 19_999), &h)), None);
    let e = run(&set, &at(&f, 20_000), &h);
    assert_eq!(fired(&e), Some(1));
    assert_eq!(
        e.fire.unwrap().message,
        "Hi! Just checking in to see if I can help answer any questions you may have."
    );
    // A background tab does not count: paused at 12 s, resumed at 60 s, the threshold moves to 68 s.
    let mut g = visitor(PRODUCT, 60_000);
    g.page.visible = Stopwatch { accumulated_ms: 12_000, running_since: Some(Timestamp(T0 + 60_000)) };
    assert_eq!(run(&set, &g, &h).next_check_at, Some(Timestamp(T0 + 68_000)));
    g.page.visible.running_since = None;
    assert_eq!(run(&set, &g, &h).next_check_at, None, "hidden: only an event can change anything");
    // Another page: never.
    let e = run(&set, &visitor("https://shop.example/about", 30_000), &h);
    assert_eq!((fired(&e), e.next_check_at), (None, None));
}

#[test]
fn scenario_2_more_than_two_views_of_the_page_after_five_seconds() {
    let set = only(2);
    let h = History::default();
    let mut f = visitor(PRODUCT, 1_000);
    f.page.views_of_page = 2;
    let e = run(&set, &f, &h);
    assert_eq!((fired(&e), e.next_check_at), (None, None), "a second view never qualifies");
    f.page.views_of_page = 3;
    assert_eq!(run(&set, &f, &h).next_check_at, Some(Timestamp(T0 + 5_000)));
    assert_eq!(fired(&run(&set, &at(&f, 5_000), &h)), Some(2));
}

#[test]
fn scenario_3_open_case_named_in_the_invite() {
    let set = only(3);
    let h = History::default();
    let mut f = visitor("https://shop.example/support/cases", 2_000);
    let e = run(&set, &f, &h);
    assert_eq!((fired(&e), e.next_check_at), (None, None), "no case, no invite");
    f.context =
        Context::parse(&json!({"Case Id": {"value": "CAS-01234-Q7B9", "isDisplayable": true}})).unwrap();
    assert_eq!(run(&set, &f, &h).next_check_at, Some(Timestamp(T0 + 10_000)));
    let e = run(&set, &at(&f, 10_000), &h);
    assert_eq!(
        e.fire.unwrap().message,
        "Hi! How are you doing today? The status of the case: CAS-01234-Q7B9 is in progress. \
         Would you like to get more details?"
    );
}

#[test]
fn scenario_4_exit_intent_after_fifteen_seconds_once_per_visit() {
    let set = only(4);
    let mut h = History::default();
    let mut f = visitor(PRODUCT, 10_000);
    let e = run(&set, &f, &h);
    assert_eq!((fired(&e), e.next_check_at), (None, None), "waits for the signal, not for a time");
    f.page.exit_intent = Some(ExitIntent { at: f.now, visible_ms_on_page: 10_000 });
    assert_eq!(fired(&run(&set, &f, &h)), None, "leaving too early");
    let f = at(&f, 16_000);
    let mut leaving = f.clone();
    leaving.page.exit_intent = Some(ExitIntent { at: f.now, visible_ms_on_page: 16_000 });
    let e = run(&set, &leaving, &h);
    assert_eq!(fired(&e), Some(4));
    // The signal goes stale after the exit-intent window (5 s by default).
    assert_eq!(e.next_check_at, Some(Timestamp(T0 + 21_000)));
    assert_eq!(fired(&run(&set, &at(&leaving, 21_000), &h)), None);

    h.record_shown(RuleId(4), leaving.now);
    let mut again = at(&leaving, 40_000);
    again.page.exit_intent = Some(ExitIntent { at: again.now, visible_ms_on_page: 40_000 });
    let e = run(&set, &again, &h);
    assert_eq!(fired(&e), None);
    assert_eq!(e.suppressed[0].reason, SuppressReason::Frequency, "once per visit");

    // The next visit, two hours later.
    let mut next = at(&again, 7_200_000);
    next.visit_started_at = next.now;
    next.page.started_at = next.now;
    next.page.visible = Stopwatch::stopped(20_000);
    next.page.exit_intent = Some(ExitIntent { at: next.now, visible_ms_on_page: 20_000 });
    assert_eq!(fired(&run(&set, &next, &h)), Some(4));
}

#[test]
fn scenario_5_came_from_the_faq_and_stayed() {
    let set = only(5);
    let h = History::default();
    let mut f = visitor(PRODUCT, 0);
    f.page.referrer = "https://shop.example/faq".into();
    assert_eq!(run(&set, &f, &h).next_check_at, Some(Timestamp(T0 + 15_000)));
    assert_eq!(fired(&run(&set, &at(&f, 15_000), &h)), Some(5));
    f.page.referrer = "https://search.example/?q=surface".into();
    let e = run(&set, &at(&f, 15_000), &h);
    assert_eq!((fired(&e), e.next_check_at), (None, None));
}

#[test]
fn scenario_6_visitors_from_a_country() {
    let set = only(6);
    let h = History::default();
    let mut f = visitor(PRODUCT, 0);
    assert_eq!(fired(&run(&set, &f, &h)), None, "unknown country never matches");
    f.country = Some(CountryCode::parse("FR").unwrap());
    assert_eq!(fired(&run(&set, &f, &h)), None);
    f.country = Some(CountryCode::parse("in").unwrap());
    let e = run(&set, &f, &h);
    assert_eq!((fired(&e), e.next_check_at), (Some(6), None));
}

#[test]
fn scenario_7_only_during_the_holiday_sale() {
    let set = only(7);
    let h = History::default();
    let from = 1_734_652_800_000; // 2024-12-20T00:00:00Z
    let to = 1_735_257_600_000; // 2024-12-27T00:00:00Z
    let f = visitor(PRODUCT, 0);
    let e = run(&set, &f, &h);
    assert_eq!((fired(&e), e.next_check_at), (None, Some(Timestamp(from))));
    let e = run(&set, &at(&f, from - T0), &h);
    assert_eq!((fired(&e), e.next_check_at), (Some(7), Some(Timestamp(to))));
    let e = run(&set, &at(&f, to - T0), &h);
    assert_eq!((fired(&e), e.next_check_at), (None, None));
}

#[test]
fn scenario_8_invite_with_a_prechat_survey() {
    let set = only(8);
    let e = run(&set, &visitor("https://shop.example/welcome", 0), &History::default());
    let fire = e.fire.unwrap();
    assert!(fire.prechat);
    assert_eq!(fire.queue_id, Some(QueueId(2)));
    assert_eq!(fire.expiry_ms, 60_000);
    assert_eq!(fire.message, "Hi! How are you doing today? Do you wish to start a chat?");
}

#[test]
fn all_eight_together_fire_the_right_one_and_wake_at_the_earliest_instant() {
    let set = RuleSet::new(seed_rules());
    let h = History::default();
    let mut f = visitor(PRODUCT, 1_000);
    f.page.referrer = "https://shop.example/FAQ".into();
    let e = run(&set, &f, &h);
    // Rule 5 (15 s) comes before rule 1 (20 s); the sale window is half a year away.
    assert_eq!((fired(&e), e.next_check_at), (None, Some(Timestamp(T0 + 15_000))));
    let e = run(&set, &at(&f, 15_000), &h);
    assert_eq!(fired(&e), Some(5));
    // Same priority: the lower id wins once both hold.
    assert_eq!(fired(&run(&set, &at(&f, 20_000), &h)), Some(1));
}
