//! Fuzzes the trigger rules' reader, `rules_from_json` — what `PUT /v1/admin/trigger-rules` and a
//! rules import go through — and the evaluator behind it. Any text must give rules or a
//! `RuleError`, never a panic. Rules that parse must round-trip (serialize, read again, get equal
//! rules: the module promises that export → import round-trips), and are then evaluated and
//! explained, so regexes, globs, templates, time windows and limits run on fuzzed rules too.
//! The checks are in fuzz/checks (shared with the test suite's short run).
#![no_main]

#[path = "../checks/mod.rs"]
#[allow(dead_code)] // each target uses one of the checks
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::trigger_rules(data));
