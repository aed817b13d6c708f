//! The console's "why" view: every rule, every condition, what the facts said, and the verdict.
//!
//! [`explain`] walks the same rules, in the same order and through the same limits as
//! [`crate::evaluate`], but keeps everything: disabled rules and rules outside their date window
//! are listed (and marked so), each condition node says whether it holds and what value it saw,
//! and each rule ends with a [`Verdict`]. The rule marked [`Verdict::WouldFire`] is the one
//! `evaluate` fires for the same input. The server sends the result to the console as JSON; it is
//! built only when an agent or admin asks, so unlike `evaluate` it allocates freely.

use crate::condition::Condition;
use crate::engine::{
    EngineSettings, RuleSet, SuppressReason, VisitorGate, WindowState, env, gate, target_queue, window_state,
};
use crate::facts::Facts;
use crate::fields::RuleId;
use crate::history::History;
use beckon_domain::{QueueId, Timestamp};
use serde::{Deserialize, Serialize};

/// One condition node as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionTrace {
    /// The node in words (`time on page ≥ 20 s`, `all of`).
    pub description: String,
    pub holds: bool,
    /// What the facts said, for leaves (`"12 s"`, `"FR"`, `"not set"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// When this node could flip if only the clock moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ConditionTrace>,
}

/// What became of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    Disabled,
    /// Before or after its date window.
    OutsideDateWindow,
    /// Its conditions do not hold.
    NoMatch,
    /// Its conditions hold; this limit held it back.
    Suppressed {
        reason: SuppressReason,
    },
    /// It is the rule that fires.
    WouldFire,
    /// It matches and passes its limits, but a rule of higher priority fires first.
    Preempted {
        by: RuleId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleTrace {
    pub rule_id: RuleId,
    pub name: String,
    pub priority: i32,
    pub enabled: bool,
    pub in_date_window: bool,
    /// The queue the invite would go to.
    pub queue_id: Option<QueueId>,
    /// Whether the whole condition tree holds.
    pub matches: bool,
    pub conditions: ConditionTrace,
    pub verdict: Verdict,
}

fn trace(c: &Condition, env: &crate::condition::Env<'_>) -> ConditionTrace {
    let timing = c.timing(env);
    ConditionTrace {
        description: c.to_string(),
        holds: timing.holds,
        observed: c.observed(env),
        changes_at: timing.change,
        children: c.children().iter().map(|child| trace(child, env)).collect(),
    }
}

/// Every rule of the set in evaluation order, with its condition tree and verdict.
pub fn explain(
    rules: &RuleSet,
    settings: &EngineSettings,
    facts: &Facts,
    history: &History,
) -> Vec<RuleTrace> {
    let visitor = VisitorGate::new(settings, facts, history);
    let mut winner: Option<RuleId> = None;
    rules
        .rules()
        .iter()
        .map(|rule| {
            let (queue_id, queue) = target_queue(rule, facts);
            let env = env(settings, facts, queue);
            let conditions = trace(&rule.conditions, &env);
            let matches = conditions.holds;
            let in_date_window = matches!(window_state(rule, facts.now), WindowState::Open(_));
            let verdict = if !rule.enabled {
                Verdict::Disabled
            } else if !in_date_window {
                Verdict::OutsideDateWindow
            } else if !matches {
                Verdict::NoMatch
            } else if let Some(b) = gate(rule, settings, facts, history, &visitor, queue).first {
                Verdict::Suppressed { reason: b.to_reason() }
            } else if let Some(by) = winner {
                Verdict::Preempted { by }
            } else {
                winner = Some(rule.id);
                Verdict::WouldFire
            };
            RuleTrace {
                rule_id: rule.id,
                name: rule.name.to_string(),
                priority: rule.priority,
                enabled: rule.enabled,
                in_date_window,
                queue_id,
                matches,
                conditions,
                verdict,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::evaluate;
    use crate::facts::{QueueFacts, Stopwatch};
    use crate::rule::Rule;
    use serde_json::json;

    fn rule(id: i64, priority: i32, extra: serde_json::Value) -> Rule {
        let mut v = json!({"id": id, "name": format!("rule {id}"), "priority": priority,
            "conditions": {"all": [{"country": ["FR"]}, {"time_on_page": {"at_least_s": 20}}]},
            "invite": {"message": "Hi"}});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        Rule::from_json_value(&v).unwrap()
    }

    #[test]
    fn every_rule_gets_a_verdict_consistent_with_evaluate() {
        let set = RuleSet::new(vec![
            rule(1, 9, json!({"enabled": false})),
            rule(
                2,
                8,
                json!({"date_window": {"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"}}),
            ),
            rule(3, 7, json!({"conditions": {"country": ["US"]}})),
            rule(4, 6, json!({"limits": {"max_wait_s": 10}})),
            rule(5, 5, json!({})),
            rule(6, 4, json!({})),
        ]);
        let now = Timestamp(1_700_000_000_000);
        let mut f = Facts {
            now,
            country: Some(crate::fields::CountryCode::parse("FR").unwrap()),
            ..Facts::default()
        };
        f.page.visible = Stopwatch::started(Timestamp(now.0 - 25_000));
        f.default_queue = Some(QueueId(1));
        f.queues.insert(
            QueueId(1),
            QueueFacts {
                in_operating_hours: true,
                has_free_agent: true,
                predicted_wait_s: Some(30),
                invites_last_minute: 0,
            },
        );
        let s = EngineSettings::default();
        let h = History::default();
        let traces = explain(&set, &s, &f, &h);
        let verdicts: Vec<_> = traces.iter().map(|t| t.verdict.clone()).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Disabled,
                Verdict::OutsideDateWindow,
                Verdict::NoMatch,
                Verdict::Suppressed { reason: SuppressReason::WaitTooLong { predicted_s: 30, max_s: 10 } },
                Verdict::WouldFire,
                Verdict::Preempted { by: RuleId(5) },
            ]
        );
        let e = evaluate(&set, &s, &f, &h);
        assert_eq!(e.fire.unwrap().rule_id, RuleId(5));
        assert_eq!(e.suppressed.len(), 1);

        let t = &traces[4].conditions;
        assert_eq!((t.description.as_str(), t.holds, t.children.len()), ("all of", true, 2));
        assert_eq!(t.children[0].observed.as_deref(), Some("FR"));
        assert_eq!(t.children[1].observed.as_deref(), Some("25 s"));
        let no_match = &traces[2].conditions;
        assert_eq!((no_match.description.as_str(), no_match.holds), ("country in US", false));

        let v = serde_json::to_value(&traces[3]).unwrap();
        assert_eq!(
            v["verdict"],
            json!({"kind": "suppressed", "reason": {"code": "wait_too_long", "predicted_s": 30, "max_s": 10}})
        );
        assert_eq!(v["conditions"]["children"][1]["description"], "time on page ≥ 20 s");
        let back: Vec<RuleTrace> = serde_json::from_value(serde_json::to_value(&traces).unwrap()).unwrap();
        assert_eq!(back, traces);
    }
}
