//! What each fuzz target checks, as plain functions of the input bytes: the cargo-fuzz targets
//! (libFuzzer, coverage-guided, run for hours) and the test suite's short run in CI
//! (`crates/beckon-server/tests/fuzz_smoke.rs`: the committed corpora plus random mutations of
//! them) call the same code, so CI checks exactly what the long runs check.

use beckon_domain::context::{MAX_NAME_CHARS, MAX_VALUE_CHARS, MAX_VARIABLES};
use beckon_domain::{Context, Timestamp};
use beckon_protocol::{AgentIn, VisitorIn, parse, rid_of};
use beckon_triggers::{
    EngineSettings, Facts, History, Rule, RuleId, RuleSet, evaluate, explain, rules_from_json,
};
use serde_json::Value;
use std::sync::LazyLock;

/// Fuzzes the visitor WebSocket's frame parser: every text frame a page sends goes through
/// `frames::parse::<VisitorIn>` (and, for frames that are not processed, `rid_of`) before anything
/// else looks at it, so it must turn any text into a frame or an error, never a panic. The context
/// values a frame carries (`start_chat`, `set_context`) are then fed to the context parser as the
/// session does, and a context that parses must survive its own wire format unchanged.
pub fn visitor_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(rid) = rid_of(text) {
        assert!(rid.len() <= 64, "rid_of let a long rid through");
    }
    let frame = match parse::<VisitorIn>(text) {
        Ok((rid, frame)) => {
            assert!(rid.is_none_or(|r| r.len() <= 64), "parse let a long rid through");
            frame
        }
        Err((rid, message)) => {
            assert!(rid.is_none_or(|r| r.len() <= 64), "parse let a long rid through");
            assert!(!message.is_empty());
            return;
        }
    };
    match frame {
        VisitorIn::StartChat { context, prechat, .. } => {
            check_context(&context);
            // What the session validates: the page's context plus the pre-chat answers.
            if let (Value::Object(mut all), Some(prechat)) = (context, prechat) {
                for (question, answer) in prechat {
                    all.insert(question, serde_json::json!({"value": answer, "isDisplayable": true}));
                }
                check_context(&Value::Object(all));
            }
        }
        VisitorIn::SetContext { context } => check_context(&context),
        other => {
            let _ = format!("{other:?}");
        }
    }
}

fn check_context(value: &Value) {
    let Ok(ctx) = Context::parse(value) else { return };
    let wire = serde_json::to_value(&ctx).expect("a context serializes");
    assert_eq!(Context::parse(&wire).as_ref(), Ok(&ctx), "context changed through its wire format");
}

/// Fuzzes the agent WebSocket's frame parser (`frames::parse::<AgentIn>`) and `rid_of`: any text
/// from a console must become a frame or a `bad_frame` error, never a panic.
pub fn agent_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(rid) = rid_of(text) {
        assert!(rid.len() <= 64, "rid_of let a long rid through");
    }
    match parse::<AgentIn>(text) {
        Ok((rid, frame)) => {
            assert!(rid.is_none_or(|r| r.len() <= 64), "parse let a long rid through");
            let _ = format!("{frame:?}");
        }
        Err((rid, message)) => {
            assert!(rid.is_none_or(|r| r.len() <= 64), "parse let a long rid through");
            assert!(!message.is_empty());
        }
    }
}

/// A visitor about whom something is known, so conditions get past their first check: on a
/// product page for a while, with context, events, UTM, a free agent, and some invite history.
static BUSY: LazyLock<(Facts, History)> = LazyLock::new(|| {
    let now = 1_718_445_600_000_i64; // 2024-06-15T10:00:00Z, a Saturday
    let facts = serde_json::from_value(serde_json::json!({
        "now": now,
        "page": {
            "url": "https://shop.example/products/pen?utm_campaign=xmas-24",
            "title": "Surface Pen", "referrer": "https://www.bing.com/",
            "started_at": now - 30_000,
            "visible": {"accumulated_ms": 12_000, "running_since": now - 8_000},
            "views_of_page": 3, "scroll_percent": 70,
            "exit_intent": {"at": now - 1_000, "visible_ms_on_page": 19_000}
        },
        "visit_started_at": now - 600_000,
        "time_on_site": {"accumulated_ms": 300_000, "running_since": now - 8_000},
        "page_views_total": 9, "visit_number": 2,
        "utm": {"source": "newsletter", "medium": "email", "campaign": "xmas-24", "term": null, "content": null},
        "country": "FR", "language": "fr-FR", "device": "desktop", "authenticated": true,
        "context": {"Plan": {"value": "gold", "isDisplayable": true}, "Total": {"value": 120.5, "isDisplayable": false}, "Case Id": {"value": "C-1", "isDisplayable": true}},
        "events": {"cart": 2, "added-to-cart": 1},
        "chatting": false, "invite_showing": false,
        "default_queue": 1,
        "queues": {"1": {"in_operating_hours": true, "has_free_agent": true, "predicted_wait_s": 30, "invites_last_minute": 0},
                   "4": {"in_operating_hours": false, "has_free_agent": false, "predicted_wait_s": null, "invites_last_minute": 9}}
    }))
    .expect("the busy visitor's facts deserialize");
    let mut history = History::default();
    history.record_shown(RuleId(2), Timestamp(now - 90_000_000));
    history.record_dismissed(None, Timestamp(now - 3_000_000));
    (facts, history)
});

/// Fuzzes the trigger rules' reader, `rules_from_json` — what `PUT /v1/admin/trigger-rules` and a
/// rules import go through — and the evaluator behind it. Any text must give rules or a
/// `RuleError`, never a panic. Rules that parse must round-trip (serialize, read again, get equal
/// rules: the module promises that export → import round-trips), and are then evaluated and
/// explained, so regexes, globs, templates, time windows and limits run on fuzzed rules too.
pub fn trigger_rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let rules = match rules_from_json(text) {
        Ok(rules) => rules,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    // Export → import: as a list of text, and rule by rule as values (what the store keeps).
    let exported = serde_json::to_string(&rules).expect("rules serialize");
    let again = rules_from_json(&exported)
        .unwrap_or_else(|e| panic!("exported rules do not read back: {e}\nexported: {exported}"));
    assert_eq!(again, rules, "rules changed through export/import\nexported: {exported}");
    for rule in &rules {
        let value = rule.to_json();
        let back = Rule::from_json_value(&value)
            .unwrap_or_else(|e| panic!("a rule's JSON value does not read back: {e}\nvalue: {value}"));
        assert_eq!(&back, rule, "a rule changed through its JSON value\nvalue: {value}");
    }

    let set = RuleSet::new(rules);
    let settings = EngineSettings::default();
    let (busy, busy_history) = &*BUSY;
    for (facts, history) in [(&Facts::default(), &History::default()), (busy, busy_history)] {
        let eval = evaluate(&set, &settings, facts, history);
        if let Some(at) = eval.next_check_at {
            assert!(at > facts.now, "next_check_at {at:?} is not after now {:?}", facts.now);
        }
        let traces = explain(&set, &settings, facts, history);
        assert_eq!(traces.len(), set.len());
        let _ = serde_json::to_string(&traces).expect("traces serialize");
        let _ = serde_json::to_string(&eval).expect("evaluations serialize");
    }
}

/// Fuzzes `Context::parse`, the one gate every custom context passes (the SDK's `start_chat` and
/// `set_context`, JWT `lwicontexts`, pre-chat answers): any JSON must give a context or a
/// `ContextError`, never a panic. A context that parses must keep the documented limits and come
/// back unchanged through its wire format, as a value and as text (it is stored as JSON text).
pub fn context(data: &[u8]) {
    let Ok(json) = serde_json::from_slice::<Value>(data) else { return };
    let ctx = match Context::parse(&json) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert!(ctx.len() <= MAX_VARIABLES);
    for (name, var) in ctx.iter() {
        assert!(!name.trim().is_empty());
        assert!(name.chars().count() <= MAX_NAME_CHARS);
        assert!(var.value.display().chars().count() <= MAX_VALUE_CHARS);
    }
    let wire = serde_json::to_value(&ctx).expect("a context serializes");
    assert_eq!(Context::parse(&wire).as_ref(), Ok(&ctx), "context changed through its wire format (value)");
    let text = serde_json::to_string(&ctx).expect("a context serializes");
    let back: Value = serde_json::from_str(&text).expect("a serialized context is JSON");
    assert_eq!(Context::parse(&back).as_ref(), Ok(&ctx), "context changed through its wire format (text)");
    // The store reads a saved context back with serde, not with `parse`.
    let stored: Context = serde_json::from_str(&text).expect("a serialized context deserializes");
    assert_eq!(stored, ctx, "context changed through serde");
}
