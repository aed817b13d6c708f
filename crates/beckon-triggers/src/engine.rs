//! The evaluator: which rule, if any, invites this visitor now — and when to ask again.
//!
//! The server calls [`evaluate`] for one visitor whenever something it knows about that visitor
//! changes (a widget event, a context update, an agent freeing a slot) and when the timer it armed
//! from the previous [`Evaluation::next_check_at`] goes off. Evaluation is a pure function of the
//! compiled [`RuleSet`], the [`EngineSettings`], the visitor's [`Facts`] (which carry `now`) and
//! [`History`]: no I/O, no clock, no state. The server owns the state and the timers, records what
//! was shown and dismissed, and decides what a firing turns into on the wire.
//!
//! Semantics, in the order they are applied:
//! - disabled rules are not in the active list at all; a rule outside its date window is skipped;
//! - rules are tried by priority (higher first, ties to the lower id); the first rule whose
//!   conditions hold and that passes every limit fires, and nothing after it is looked at;
//! - a rule whose conditions hold but that a limit holds back is reported in
//!   [`Evaluation::suppressed`] with the first limit that blocks it, and the next rule is tried.
//!   Limits are checked in the order of [`SuppressReason`]: visitor-wide ones (in a chat, chatted
//!   earlier in this visit, an invite on screen, the rule's own frequency, the per-visit and rolling per-day caps, the cooldown after
//!   dismissals), then the invite's needs (context for its message, the target queue open, a free
//!   agent, a short enough wait, the queue's pacing).
//!
//! A suppression is reported at every evaluation where it holds; the server counts it once (per
//! rule and page view, say), not once per call.
//!
//! [`Evaluation::next_check_at`] is a lower bound on the first instant after `now` when, if only
//! the clock moved, [`Evaluation::fire`] could differ: a time condition crossing its threshold, a
//! local time window opening or closing, an exit-intent signal going stale, a date window opening
//! or closing, a cooldown or an "every N days" frequency ending, a capped invite ageing out of the
//! rolling day. It is never `now` itself (so a server that re-evaluates at that instant cannot spin)
//! and is `None` when only a change of facts can change the outcome. Queue facts (free agents,
//! predicted wait, pacing) are the server's to watch; a rule held back by pacing alone is retried
//! after [`EngineSettings::pacing_retry_ms`], since the pacing window slides on its own.

use crate::condition::{Env, Timing};
use crate::facts::{Facts, QueueFacts};
use crate::fields::{ContextKey, RuleId};
use crate::history::History;
use crate::rule::{Frequency, Rule};
use beckon_domain::{QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The visitor-wide attention budget and the engine's defaults. Every field has a default, so a
/// configuration file only names what it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    /// How long an exit-intent signal counts after the widget reported it.
    pub exit_intent_window_ms: i64,
    /// At most this many invites shown per visit (all rules, SDK and agent invites included).
    pub max_invites_per_visit: Option<u32>,
    /// At most this many invites shown in any rolling 24 hours.
    pub max_invites_per_day: Option<u32>,
    /// After the visitor dismisses an invite, none for this long; each further dismissal doubles
    /// it (`base × 2^(n-1)` after the n-th, counting every dismissal in [`History`]), up to
    /// [`EngineSettings::dismissal_cooldown_max_ms`].
    pub dismissal_cooldown_ms: i64,
    pub dismissal_cooldown_max_ms: i64,
    /// How long an invite stays on screen when its rule does not say.
    pub default_expiry_ms: i64,
    /// At most this many rule invites per queue and minute, across all visitors.
    pub max_invites_per_queue_per_minute: Option<u32>,
    /// When pacing alone holds a matching rule back, look again after this long.
    pub pacing_retry_ms: i64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            exit_intent_window_ms: 5_000,
            max_invites_per_visit: Some(2),
            max_invites_per_day: Some(4),
            dismissal_cooldown_ms: 10 * 60_000,
            dismissal_cooldown_max_ms: 24 * 3_600_000,
            default_expiry_ms: 60_000,
            max_invites_per_queue_per_minute: None,
            pacing_retry_ms: 5_000,
        }
    }
}

impl EngineSettings {
    /// The quiet time after the `dismissals`-th dismissal (0 when there was none).
    pub fn cooldown_ms(&self, dismissals: u32) -> i64 {
        if dismissals == 0 {
            return 0;
        }
        let factor = 1i64.checked_shl(dismissals - 1).filter(|f| *f > 0).unwrap_or(i64::MAX);
        self.dismissal_cooldown_ms.max(0).saturating_mul(factor).min(self.dismissal_cooldown_max_ms.max(0))
    }
}

/// The rules of one widget, compiled for evaluation: sorted by priority (higher first, ties to the
/// lower id), with the enabled ones indexed so that disabled rules cost nothing.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    active: Vec<usize>,
}

impl RuleSet {
    pub fn new(mut rules: Vec<Rule>) -> Self {
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
        let active = rules.iter().enumerate().filter(|(_, r)| r.enabled).map(|(i, _)| i).collect();
        Self { rules, active }
    }
    /// Every rule, disabled ones included, in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
    /// The enabled rules, in evaluation order.
    pub fn active(&self) -> impl Iterator<Item = &Rule> {
        self.active.iter().map(|&i| &self.rules[i])
    }
    pub fn get(&self, id: RuleId) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
    pub fn len(&self) -> usize {
        self.rules.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Why a matching rule did not fire. Serialized as `{"code": "wait_too_long", "predicted_s": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum SuppressReason {
    /// The visitor is in a conversation.
    Chatting,
    /// The visitor already chatted during this visit (a chat that just ended is no moment for an
    /// invite); a new visit lifts it.
    ChattedThisVisit,
    /// Another invite is on screen.
    InviteShowing,
    /// The rule already invited this visitor within its frequency (once per page view, visit…).
    Frequency,
    /// The per-visit cap of invites is reached.
    VisitCap,
    /// The rolling 24-hour cap of invites is reached.
    DailyCap,
    /// The visitor dismissed an invite recently.
    Cooldown { until: Timestamp },
    /// The message names a context variable the visitor's context lacks.
    MissingContext { name: String },
    /// The target queue is outside its operating hours.
    QueueClosed,
    /// No available agent of the target queue has a free slot (or the queue is unknown).
    NoFreeAgent,
    /// The target queue's predicted wait is longer than the rule accepts.
    WaitTooLong { predicted_s: u32, max_s: u32 },
    /// The target queue has had its share of invites this minute.
    Pacing,
}

impl fmt::Display for SuppressReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuppressReason::Chatting => f.write_str("the visitor is chatting"),
            SuppressReason::ChattedThisVisit => f.write_str("the visitor already chatted during this visit"),
            SuppressReason::InviteShowing => f.write_str("an invite is already showing"),
            SuppressReason::Frequency => f.write_str("already shown within the rule's frequency"),
            SuppressReason::VisitCap => f.write_str("the invites-per-visit cap is reached"),
            SuppressReason::DailyCap => f.write_str("the invites-per-day cap is reached"),
            SuppressReason::Cooldown { until } => {
                write!(f, "cooling down after a dismissal until {}", until.0)
            }
            SuppressReason::MissingContext { name } => {
                write!(f, "the message needs context {name:?}, which the visitor does not have")
            }
            SuppressReason::QueueClosed => f.write_str("the target queue is closed"),
            SuppressReason::NoFreeAgent => f.write_str("no agent of the target queue is free"),
            SuppressReason::WaitTooLong { predicted_s, max_s } => {
                write!(f, "predicted wait {predicted_s} s is over the rule's {max_s} s")
            }
            SuppressReason::Pacing => f.write_str("the target queue's invites-per-minute limit is reached"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub rule_id: RuleId,
    pub reason: SuppressReason,
}

/// The invite to offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firing {
    pub rule_id: RuleId,
    /// Plain text, placeholders filled; the widget shows it as text, never as HTML.
    pub message: String,
    /// The message in other languages, by language code (those whose placeholders could all be
    /// filled); the widget shows the one for its language, else `message`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<String, String>,
    pub prechat: bool,
    /// The rule's queue, or the widget's default; `None` when neither is known.
    pub queue_id: Option<QueueId>,
    /// How long the invite stays on screen once shown.
    pub expiry_ms: i64,
    /// How long to wait before showing it; the server evaluates again when the delay is over
    /// and shows the invite only if the same rule still fires.
    pub delay_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Evaluation {
    pub fire: Option<Firing>,
    /// Matching rules held back by a limit, in evaluation order.
    pub suppressed: Vec<Suppression>,
    /// Arm a timer for this instant (see the module documentation).
    pub next_check_at: Option<Timestamp>,
}

/// What blocks a rule, before we know whether it matches (so no allocation yet).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Block<'r> {
    Reason(Reason),
    MissingContext(&'r ContextKey),
}

/// The allocation-free reasons.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reason {
    Chatting,
    ChattedThisVisit,
    InviteShowing,
    Frequency,
    VisitCap,
    DailyCap,
    Cooldown(Timestamp),
    QueueClosed,
    NoFreeAgent,
    WaitTooLong(u32, u32),
    Pacing,
}

impl Block<'_> {
    pub(crate) fn to_reason(self) -> SuppressReason {
        match self {
            Block::MissingContext(k) => SuppressReason::MissingContext { name: k.as_str().to_owned() },
            Block::Reason(r) => match r {
                Reason::Chatting => SuppressReason::Chatting,
                Reason::ChattedThisVisit => SuppressReason::ChattedThisVisit,
                Reason::InviteShowing => SuppressReason::InviteShowing,
                Reason::Frequency => SuppressReason::Frequency,
                Reason::VisitCap => SuppressReason::VisitCap,
                Reason::DailyCap => SuppressReason::DailyCap,
                Reason::Cooldown(until) => SuppressReason::Cooldown { until },
                Reason::QueueClosed => SuppressReason::QueueClosed,
                Reason::NoFreeAgent => SuppressReason::NoFreeAgent,
                Reason::WaitTooLong(p, m) => SuppressReason::WaitTooLong { predicted_s: p, max_s: m },
                Reason::Pacing => SuppressReason::Pacing,
            },
        }
    }
}

/// The limits' verdict on one rule: the first limit that blocks it (if any) and when every limit
/// will have lifted if only the clock moves (`now` when none blocks, `None` when one never lifts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gate<'r> {
    pub first: Option<Block<'r>>,
    pub lifts_at: Option<Timestamp>,
}

impl<'r> Gate<'r> {
    fn open(now: Timestamp) -> Self {
        Self { first: None, lifts_at: Some(now) }
    }
    /// Adds a blocking limit that lifts at `lifts` (`None`: never, as far as the clock goes).
    fn block(&mut self, b: Block<'r>, lifts: Option<Timestamp>) {
        self.first.get_or_insert(b);
        self.lifts_at = match (self.lifts_at, lifts) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
}

/// The visitor-wide part of the limits, the same for every rule of one evaluation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VisitorGate {
    chatting: bool,
    chatted_this_visit: bool,
    invite_showing: bool,
    /// `Some(lifts_at)` when the cap is reached (`lifts_at` `None`: never).
    visit_cap: Option<Option<Timestamp>>,
    daily_cap: Option<Option<Timestamp>>,
    cooldown_until: Option<Timestamp>,
}

impl VisitorGate {
    pub(crate) fn new(settings: &EngineSettings, facts: &Facts, history: &History) -> Self {
        let now = facts.now;
        let cap = |since: Timestamp, cap: Option<u32>| {
            let cap = cap?;
            (history.shown_since(since, now) >= cap as usize).then(|| history.cap_lifts_at(since, cap, now))
        };
        let cooldown_until = history
            .last_dismissed_at
            .map(|t| t.plus_millis(settings.cooldown_ms(history.dismissals)))
            .filter(|until| *until > now);
        Self {
            chatting: facts.chatting,
            chatted_this_visit: history.last_chat_at.is_some_and(|t| t >= facts.visit_started_at),
            invite_showing: facts.invite_showing,
            visit_cap: cap(facts.visit_started_at, settings.max_invites_per_visit),
            daily_cap: cap(Timestamp(i64::MIN), settings.max_invites_per_day),
            cooldown_until,
        }
    }
}

/// The target queue of a rule's invite and what the server knows about it.
pub(crate) fn target_queue<'f>(rule: &Rule, facts: &'f Facts) -> (Option<QueueId>, Option<&'f QueueFacts>) {
    let id = rule.invite.queue_id.or(facts.default_queue);
    (id, id.and_then(|q| facts.queues.get(&q)))
}

/// Every limit on `rule`, in the documented order.
pub(crate) fn gate<'r>(
    rule: &'r Rule,
    settings: &EngineSettings,
    facts: &Facts,
    history: &History,
    visitor: &VisitorGate,
    queue: Option<&QueueFacts>,
) -> Gate<'r> {
    let now = facts.now;
    let mut g = Gate::open(now);
    if visitor.chatting {
        g.block(Block::Reason(Reason::Chatting), None);
    }
    if visitor.chatted_this_visit {
        g.block(Block::Reason(Reason::ChattedThisVisit), None);
    }
    if visitor.invite_showing {
        g.block(Block::Reason(Reason::InviteShowing), None);
    }
    if let Some(last) = history.rule(rule.id).and_then(|h| h.last_shown_at) {
        let blocked_until = match rule.limits.frequency {
            Frequency::OncePerPageView => (last >= facts.page.started_at).then_some(None),
            Frequency::OncePerVisit => (last >= facts.visit_started_at).then_some(None),
            Frequency::OncePerVisitor => Some(None),
            Frequency::OncePerDays(d) => {
                let until = last.plus_millis(d.millis());
                (until > now).then_some(Some(until))
            }
        };
        if let Some(lifts) = blocked_until {
            g.block(Block::Reason(Reason::Frequency), lifts);
        }
    }
    if let Some(lifts) = visitor.visit_cap {
        g.block(Block::Reason(Reason::VisitCap), lifts);
    }
    if let Some(lifts) = visitor.daily_cap {
        g.block(Block::Reason(Reason::DailyCap), lifts);
    }
    if let Some(until) = visitor.cooldown_until {
        g.block(Block::Reason(Reason::Cooldown(until)), Some(until));
    }
    if let Some(missing) = rule.invite.message.missing_in(&facts.context) {
        g.block(Block::MissingContext(missing), None);
    }
    if rule.limits.require_free_agent {
        match queue {
            Some(q) if !q.in_operating_hours => g.block(Block::Reason(Reason::QueueClosed), None),
            Some(q) if q.has_free_agent => {}
            _ => g.block(Block::Reason(Reason::NoFreeAgent), None),
        }
    }
    if let (Some(max_s), Some(predicted_s)) = (rule.limits.max_wait_s, queue.and_then(|q| q.predicted_wait_s))
        && predicted_s > max_s
    {
        g.block(Block::Reason(Reason::WaitTooLong(predicted_s, max_s)), None);
    }
    if let (Some(cap), Some(q)) = (settings.max_invites_per_queue_per_minute, queue)
        && q.invites_last_minute >= cap
    {
        g.block(Block::Reason(Reason::Pacing), Some(now.plus_millis(settings.pacing_retry_ms.max(1))));
    }
    g
}

/// Where `rule` stands with respect to its date window at `now`.
pub(crate) enum WindowState {
    /// No window, or inside it; `Some(end)` when it closes.
    Open(Option<Timestamp>),
    /// Before the window: it opens then.
    Before(Timestamp),
    /// The window is over for good.
    After,
}

pub(crate) fn window_state(rule: &Rule, now: Timestamp) -> WindowState {
    match &rule.date_window {
        None => WindowState::Open(None),
        Some(w) if now.0 < w.from().millis() => WindowState::Before(Timestamp(w.from().millis())),
        Some(w) if now.0 >= w.to().millis() => WindowState::After,
        Some(w) => WindowState::Open(Some(Timestamp(w.to().millis()))),
    }
}

pub(crate) fn env<'f>(settings: &EngineSettings, facts: &'f Facts, queue: Option<&'f QueueFacts>) -> Env<'f> {
    Env { facts, now: facts.now, queue, exit_intent_window_ms: settings.exit_intent_window_ms }
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Decides whether a rule invites this visitor now; see the module documentation.
pub fn evaluate(rules: &RuleSet, settings: &EngineSettings, facts: &Facts, history: &History) -> Evaluation {
    let now = facts.now;
    let visitor = VisitorGate::new(settings, facts, history);
    let mut out = Evaluation::default();
    for rule in rules.active() {
        let window_end = match window_state(rule, now) {
            WindowState::After => continue,
            WindowState::Before(from) => {
                out.next_check_at = earliest(out.next_check_at, Some(from));
                continue;
            }
            WindowState::Open(end) => end,
        };
        let (queue_id, queue) = target_queue(rule, facts);
        let env = env(settings, facts, queue);
        let Timing { holds, change } = rule.conditions.timing(&env);
        if !holds && change.is_none() {
            // The common case (another page, another country): only new facts can make it match,
            // so its limits do not matter.
            continue;
        }
        let g = gate(rule, settings, facts, history, &visitor, queue);
        // The earliest instant this rule's standing could change, if it is before its window ends.
        let mut candidate = None;
        if holds {
            if let Some(b) = g.first {
                out.suppressed.push(Suppression { rule_id: rule.id, reason: b.to_reason() });
                candidate = g.lifts_at;
            } else if let Ok(message) = rule.invite.message.render(&facts.context) {
                let translations = rule
                    .invite
                    .translations
                    .iter()
                    .filter_map(|(lang, m)| Some((lang.as_str().to_owned(), m.render(&facts.context).ok()?)))
                    .collect();
                out.fire = Some(Firing {
                    rule_id: rule.id,
                    message,
                    translations,
                    prechat: rule.invite.prechat,
                    queue_id,
                    expiry_ms: rule.invite.expiry_ms.map_or(settings.default_expiry_ms, |e| e.get()),
                    delay_ms: rule.invite.delay_ms.get(),
                });
                out.next_check_at = earliest(out.next_check_at, earliest(change, window_end));
                break;
            }
        } else if let (Some(starts), Some(lifts_at)) = (change, g.lifts_at) {
            // It can fire only once its conditions hold and its limits have lifted.
            candidate = Some(starts.max(lifts_at));
        }
        if let Some(c) = candidate
            && window_end.is_none_or(|end| c < end)
        {
            out.next_check_at = earliest(out.next_check_at, Some(c));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{QueueFacts, Stopwatch};
    use crate::rule::Rule;
    use beckon_domain::Context;
    use serde_json::json;

    const T0: i64 = 1_700_000_000_000;
    const Q: QueueId = QueueId(1);

    fn rule(v: serde_json::Value) -> Rule {
        let mut base = json!({"id": 1, "name": "r", "conditions": {"all": []}, "invite": {"message": "Hi"}});
        for (k, val) in v.as_object().unwrap() {
            base[k] = val.clone();
        }
        Rule::from_json_value(&base).unwrap()
    }

    fn facts(at: i64) -> Facts {
        let mut f = Facts {
            now: Timestamp(T0 + at),
            visit_started_at: Timestamp(T0),
            time_on_site: Stopwatch::started(Timestamp(T0)),
            default_queue: Some(Q),
            ..Facts::default()
        };
        f.page.started_at = Timestamp(T0);
        f.page.visible = Stopwatch::started(Timestamp(T0));
        f.queues.insert(
            Q,
            QueueFacts { in_operating_hours: true, has_free_agent: true, ..QueueFacts::default() },
        );
        f
    }

    fn no_caps() -> EngineSettings {
        EngineSettings { max_invites_per_visit: None, max_invites_per_day: None, ..EngineSettings::default() }
    }

    fn reasons(e: &Evaluation) -> Vec<SuppressReason> {
        e.suppressed.iter().map(|s| s.reason.clone()).collect()
    }

    #[test]
    fn cooldown_doubles_and_is_capped() {
        let s =
            EngineSettings { dismissal_cooldown_ms: 1_000, dismissal_cooldown_max_ms: 10_000, ..no_caps() };
        assert_eq!(s.cooldown_ms(0), 0);
        assert_eq!(s.cooldown_ms(1), 1_000);
        assert_eq!(s.cooldown_ms(2), 2_000);
        assert_eq!(s.cooldown_ms(4), 8_000);
        assert_eq!(s.cooldown_ms(5), 10_000);
        assert_eq!(s.cooldown_ms(200), 10_000);
    }

    #[test]
    fn rules_go_by_priority_then_id_and_disabled_ones_are_not_active() {
        let set = RuleSet::new(vec![
            rule(json!({"id": 3, "priority": 1})),
            rule(json!({"id": 2, "priority": 5, "enabled": false})),
            rule(json!({"id": 1, "priority": 1})),
            rule(json!({"id": 9, "priority": 7})),
        ]);
        let order: Vec<i64> = set.rules().iter().map(|r| r.id.0).collect();
        assert_eq!(order, [9, 2, 1, 3]);
        let active: Vec<i64> = set.active().map(|r| r.id.0).collect();
        assert_eq!(active, [9, 1, 3]);
        assert_eq!(
            evaluate(&set, &no_caps(), &facts(0), &History::default()).fire.unwrap().rule_id,
            RuleId(9)
        );
        assert!(set.get(RuleId(2)).is_some() && set.len() == 4 && !set.is_empty());
    }

    #[test]
    fn a_firing_carries_the_invite() {
        let set = RuleSet::new(vec![rule(json!({
            "invite": {"message": "Case {context:Case Id}", "prechat": true, "delay_ms": 2000,
                       "translations": {"fr": "Dossier {context:Case Id}"}}
        }))]);
        let mut f = facts(0);
        f.context = Context::parse(&json!({"Case Id": "CAS-1"})).unwrap();
        let e = evaluate(&set, &no_caps(), &f, &History::default());
        assert_eq!(
            e.fire,
            Some(Firing {
                rule_id: RuleId(1),
                message: "Case CAS-1".into(),
                translations: [("fr".to_owned(), "Dossier CAS-1".to_owned())].into(),
                prechat: true,
                queue_id: Some(Q),
                expiry_ms: 60_000,
                delay_ms: 2_000,
            })
        );
        assert_eq!(e.next_check_at, None, "nothing here depends on the clock");
        let set =
            RuleSet::new(vec![rule(json!({"invite": {"message": "Hi", "queue_id": 7, "expiry_ms": 30000},
            "limits": {"require_free_agent": false}}))]);
        let fire = evaluate(&set, &no_caps(), &f, &History::default()).fire.unwrap();
        assert_eq!((fire.queue_id, fire.expiry_ms), (Some(QueueId(7)), 30_000));
    }

    #[test]
    fn every_limit_reports_its_reason_and_the_next_rule_is_tried() {
        let blocked = rule(json!({"id": 1, "priority": 10, "limits": {"max_wait_s": 60}}));
        let fallback = rule(json!({"id": 2, "limits": {"require_free_agent": false}}));
        let set = RuleSet::new(vec![blocked, fallback]);
        let s = no_caps();
        let h = History::default();
        let check = |f: &Facts, want: SuppressReason| {
            let e = evaluate(&set, &s, f, &h);
            assert_eq!(reasons(&e), std::slice::from_ref(&want), "{want}");
            assert_eq!(e.fire.map(|x| x.rule_id), Some(RuleId(2)), "{want}");
        };
        let mut f = facts(0);
        f.queues.get_mut(&Q).unwrap().in_operating_hours = false;
        check(&f, SuppressReason::QueueClosed);
        let mut f = facts(0);
        f.queues.get_mut(&Q).unwrap().has_free_agent = false;
        check(&f, SuppressReason::NoFreeAgent);
        let mut f = facts(0);
        f.queues.clear();
        check(&f, SuppressReason::NoFreeAgent);
        let mut f = facts(0);
        f.queues.get_mut(&Q).unwrap().predicted_wait_s = Some(90);
        check(&f, SuppressReason::WaitTooLong { predicted_s: 90, max_s: 60 });
        f.queues.get_mut(&Q).unwrap().predicted_wait_s = Some(60);
        assert_eq!(evaluate(&set, &s, &f, &h).fire.unwrap().rule_id, RuleId(1));

        // Visitor-wide gates hold back every rule.
        let mut f = facts(0);
        f.chatting = true;
        let e = evaluate(&set, &s, &f, &h);
        assert_eq!(reasons(&e), [SuppressReason::Chatting, SuppressReason::Chatting]);
        assert_eq!((e.fire, e.next_check_at), (None, None));
        let mut f = facts(0);
        f.invite_showing = true;
        assert_eq!(
            reasons(&evaluate(&set, &s, &f, &h)),
            [SuppressReason::InviteShowing, SuppressReason::InviteShowing]
        );

        // A chat that ended a moment ago: no rule invites again in this visit; a new visit may.
        let f = facts(0);
        let mut chatted = h.clone();
        chatted.record_chat(f.now);
        let e = evaluate(&set, &s, &f, &chatted);
        assert_eq!(reasons(&e), [SuppressReason::ChattedThisVisit, SuppressReason::ChattedThisVisit]);
        assert_eq!((e.fire, e.next_check_at), (None, None));
        let mut next_visit = facts(0);
        next_visit.visit_started_at = f.now.plus_millis(1);
        next_visit.now = next_visit.visit_started_at;
        assert!(evaluate(&set, &s, &next_visit, &chatted).fire.is_some(), "a new visit may be invited");
    }

    #[test]
    fn missing_context_holds_the_rule_back() {
        let set = RuleSet::new(vec![rule(json!({"invite": {"message": "Case {context:Case Id}"}}))]);
        let e = evaluate(&set, &no_caps(), &facts(0), &History::default());
        assert_eq!(reasons(&e), [SuppressReason::MissingContext { name: "Case Id".into() }]);
        assert_eq!(e.next_check_at, None);
    }

    #[test]
    fn frequencies() {
        let f = facts(60_000);
        let s = no_caps();
        let shown_at = |at: i64| {
            let mut h = History::default();
            h.record_shown(RuleId(1), Timestamp(T0 + at));
            h
        };
        let run = |freq: serde_json::Value, h: &History, f: &Facts| {
            evaluate(&RuleSet::new(vec![rule(json!({"limits": {"frequency": freq}}))]), &s, f, h)
        };
        // Shown before this page view started: allowed again once per page view, not once per visit.
        let mut later_page = f.clone();
        later_page.page.started_at = Timestamp(T0 + 30_000);
        assert!(run(json!("once_per_page_view"), &shown_at(10_000), &later_page).fire.is_some());
        assert_eq!(
            reasons(&run(json!("once_per_page_view"), &shown_at(40_000), &later_page)),
            [SuppressReason::Frequency]
        );
        assert_eq!(
            reasons(&run(json!("once_per_visit"), &shown_at(10_000), &later_page)),
            [SuppressReason::Frequency]
        );
        let mut next_visit = f.clone();
        next_visit.visit_started_at = Timestamp(T0 + 50_000);
        assert!(run(json!("once_per_visit"), &shown_at(10_000), &next_visit).fire.is_some());
        assert_eq!(
            reasons(&run(json!("once_per_visitor"), &shown_at(-99 * DAY), &next_visit)),
            [SuppressReason::Frequency]
        );
        let e = run(json!({"once_per_days": 2}), &shown_at(0), &f);
        assert_eq!(reasons(&e), [SuppressReason::Frequency]);
        assert_eq!(e.next_check_at, Some(Timestamp(T0 + 2 * DAY)));
    }

    const DAY: i64 = crate::history::DAY_MS;

    #[test]
    fn caps_and_cooldown_lift_on_time() {
        let set = RuleSet::new(vec![rule(json!({"limits": {"frequency": "once_per_page_view"}}))]);
        let f = facts(60_000);
        let mut h = History::default();
        h.record_shown_other(Timestamp(T0 - 2 * 3_600_000));
        h.record_shown_other(Timestamp(T0 + 1_000));
        let s = EngineSettings { max_invites_per_visit: Some(1), ..no_caps() };
        let e = evaluate(&set, &s, &f, &h);
        assert_eq!(reasons(&e), [SuppressReason::VisitCap]);
        assert_eq!(e.next_check_at, Some(Timestamp(T0 + 1_000 + DAY)), "the visit's invite must age out");
        let s = EngineSettings { max_invites_per_day: Some(2), ..no_caps() };
        let e = evaluate(&set, &s, &f, &h);
        assert_eq!(reasons(&e), [SuppressReason::DailyCap]);
        assert_eq!(e.next_check_at, Some(Timestamp(T0 - 2 * 3_600_000 + DAY)));
        let s = EngineSettings { max_invites_per_day: Some(0), ..no_caps() };
        assert_eq!(evaluate(&set, &s, &f, &h).next_check_at, None, "a zero cap never lifts");

        let s = EngineSettings { dismissal_cooldown_ms: 60_000, ..no_caps() };
        let mut h = History::default();
        h.record_dismissed(None, Timestamp(T0));
        h.record_dismissed(None, Timestamp(T0 + 30_000));
        let e = evaluate(&set, &s, &f, &h);
        let until = Timestamp(T0 + 30_000 + 120_000);
        assert_eq!(reasons(&e), [SuppressReason::Cooldown { until }]);
        assert_eq!(e.next_check_at, Some(until));
        assert!(evaluate(&set, &s, &facts(150_000), &h).fire.is_some());
    }

    #[test]
    fn pacing_retries_after_a_while() {
        let set = RuleSet::new(vec![rule(json!({}))]);
        let s = EngineSettings { max_invites_per_queue_per_minute: Some(3), ..no_caps() };
        let mut f = facts(0);
        f.queues.get_mut(&Q).unwrap().invites_last_minute = 3;
        let e = evaluate(&set, &s, &f, &History::default());
        assert_eq!(reasons(&e), [SuppressReason::Pacing]);
        assert_eq!(e.next_check_at, Some(f.now.plus_millis(5_000)));
    }

    #[test]
    fn next_check_follows_time_conditions_and_date_windows() {
        let time = rule(json!({"id": 1, "priority": 2, "conditions": {"time_on_page": {"at_least_s": 20}}}));
        let sale = rule(json!({"id": 2, "priority": 1,
            "date_window": {"from": "2023-11-14T22:20:00Z", "to": "2023-11-15T00:00:00Z"}}));
        let set = RuleSet::new(vec![time, sale]);
        // T0 is 2023-11-14T22:13:20Z.
        let e = evaluate(&set, &no_caps(), &facts(5_000), &History::default());
        assert_eq!(e.fire, None);
        assert_eq!(e.next_check_at, Some(Timestamp(T0 + 20_000)));
        let e = evaluate(&set, &no_caps(), &facts(20_000), &History::default());
        assert_eq!(e.fire.unwrap().rule_id, RuleId(1));
        assert_eq!(e.next_check_at, None, "time on page only grows");
        // The time rule already used this visit: the sale window's opening is what comes next.
        let mut h = History::default();
        h.record_shown(RuleId(1), Timestamp(T0 + 20_000));
        let e = evaluate(&set, &no_caps(), &facts(30_000), &h);
        assert_eq!(e.next_check_at, Some(Timestamp(T0 + 400_000)));
        let e = evaluate(&set, &no_caps(), &facts(400_000), &h);
        assert_eq!(e.fire.unwrap().rule_id, RuleId(2));
        assert_eq!(e.next_check_at, Some(Timestamp(1_700_006_400_000)), "the window closes");
    }
}
