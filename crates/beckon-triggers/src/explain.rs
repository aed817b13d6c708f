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
#[serde(tag = "verdict", rename_all = "snake_case")]
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
