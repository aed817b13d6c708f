//! Rules as the console exports and imports them: a round trip keeps every rule as written, and a
//! bad file is rejected with the path of the offending field, so the editor can point at it.

use beckon_triggers::{Rule, RuleError, rules_from_json};
use serde_json::{Value, json};

const SEED: &str = include_str!("data/seed_scenarios.json");

#[test]
fn the_seed_rules_round_trip() {
    let rules = rules_from_json(SEED).unwrap();
    assert_eq!(rules.len(), 8);
    let exported = serde_json::to_value(&rules).unwrap();
    // What was written comes back, with the defaults made explicit.
    let original: Value = serde_json::from_str(SEED).unwrap();
    for (out, written) in exported.as_array().unwrap().iter().zip(original.as_array().unwrap()) {
        assert_eq!(out["conditions"], written["conditions"]);
        assert_eq!(out["invite"]["message"], written["invite"]["message"]);
        assert_eq!(out["enabled"], json!(true));
        assert_eq!(out["limits"]["require_free_agent"], json!(true));
    }
    let again = rules_from_json(&exported.to_string()).unwrap();
    assert_eq!(again, rules);
    for r in &rules {
        assert_eq!(&Rule::from_json(&serde_json::to_string(r).unwrap()).unwrap(), r);
    }
}

fn error_of(mutate: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(SEED).unwrap();
    mutate(&mut v);
    match rules_from_json(&v.to_string()) {
        Err(RuleError::Field { path, message }) => format!("{path}: {message}"),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn errors_carry_the_field_path() {
    let e = error_of(|v| v[0]["conditions"]["all"][1]["time_on_page"]["at_least_s"] = json!(-5));
    assert!(e.starts_with("[0].conditions.all[1].time_on_page.at_least_s: a number of seconds"), "{e}");
    let e = error_of(|v| v[4]["conditions"]["all"][0]["referrer"]["op"] = json!("like"));
    assert!(e.starts_with("[4].conditions.all[0].referrer.op: unknown variant `like`"), "{e}");
    let e = error_of(|v| v[5]["conditions"]["country"] = json!([]));
    assert!(e.starts_with("[5].conditions.country: the list must not be empty"), "{e}");
    let e = error_of(|v| v[2]["invite"]["message"] = json!("Case {case}"));
    assert!(e.starts_with("[2].invite.message: unknown placeholder {case}"), "{e}");
    let e = error_of(|v| v[3]["limits"]["frequency"] = json!("once_per_fortnight"));
    assert!(e.starts_with("[3].limits.frequency: unknown variant `once_per_fortnight`"), "{e}");
    let e = error_of(|v| v[6]["date_window"]["to"] = json!("next Tuesday"));
    assert!(e.starts_with("[6].date_window.to: \"next Tuesday\" is not a date and time"), "{e}");
    let e = error_of(|v| v[7]["invite"]["colour"] = json!("red"));
    assert!(e.starts_with("[7].invite.colour: unknown field `colour`, expected one of `message`"), "{e}");
    let e = rules_from_json("[{\"id\": 1,,}]").unwrap_err();
    assert!(matches!(e, RuleError::Syntax { line: 1, .. }), "{e}");
}
