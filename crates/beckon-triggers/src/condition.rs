//! The conditions of a rule: a boolean tree over one visitor's [`Facts`].
//!
//! `all` / `any` / `not` combine conditions as boolean algebra (`all []` holds, `any []` does not);
//! the leaves are the signals the design lists — page, referrer, time, counts, exit intent, scroll,
//! country, language, device, local time window, operating hours, authentication, custom context,
//! UTM parameters and custom events.
//!
//! Besides "does it hold now", every condition answers a question about time, assuming nothing but
//! the clock changes: when could that answer flip — the next instant it could start holding if it
//! does not, or stop holding if it does (`Condition::timing`, crate-internal). Leaves answer
//! exactly; `all`/`any`/`not` combine the answers into a lower bound (never later than the truth,
//! always after `now`), which is what the engine needs to arm a timer that never fires too late
//! and never spins. The console sees the same instants in [`crate::ConditionTrace::changes_at`].
//!
//! Rule-file form (JSON, externally tagged, snake_case):
//! `{"all": [{"page_url": {"op": "contains", "value": "/products/"}}, {"time_on_page": {"at_least_s": 20}}]}`.

use crate::facts::{Facts, QueueFacts};
use crate::fields::{
    ContextKey, CountryCode, DeviceType, EventName, FieldError, LanguagePrefix, LocalTime, NonEmpty, Percent,
    Seconds, TimeZoneName, UtmParam, Weekdays, instant_of, local_datetime,
};
use crate::text::{TextMatch, TextMatchSpec, TextOp};
use beckon_domain::{ContextValue, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Every condition holds (an empty list holds).
    All(Vec<Condition>),
    /// At least one condition holds (an empty list does not).
    Any(Vec<Condition>),
    Not(Box<Condition>),
    PageUrl(TextMatch),
    PageTitle(TextMatch),
    /// "Came from page X": `document.referrer`, empty when there is none.
    Referrer(TextMatch),
    /// Visible-and-focused time on the current page.
    TimeOnPage {
        at_least_s: Seconds,
    },
    /// Time on the site this visit.
    TimeOnSite {
        at_least_s: Seconds,
    },
    /// Views of the current URL by this visitor, across visits (this view included).
    PageViewsOfPage(Compare),
    /// Page views by this visitor, across visits.
    PageViewsTotal(Compare),
    /// The visit number (1 for a first visit).
    VisitCount(Compare),
    /// `true`: a returning visitor (visit 2 or later); `false`: a first visit.
    Returning(bool),
    /// The visitor signalled exit intent within the engine's exit-intent window, after at least
    /// `after_s` seconds of visible time on the page.
    ExitIntent {
        after_s: Seconds,
    },
    ScrollDepth {
        at_least_percent: Percent,
    },
    /// The GeoIP country is one of these; never holds when the country is unknown.
    Country(NonEmpty<CountryCode>),
    /// The browser language falls under one of these prefixes.
    Language(NonEmpty<LanguagePrefix>),
    Device(NonEmpty<DeviceType>),
    LocalTime(LocalWindow),
    /// The rule's target queue is inside (`true`) or outside (`false`) its operating hours.
    InOperatingHours(bool),
    Authenticated(bool),
    Context(ContextCondition),
    Utm(UtmCondition),
    /// The page reported `track(name)` at least `at_least` times this visit.
    Event {
        name: EventName,
        #[serde(default = "one")]
        at_least: u32,
    },
}

fn one() -> u32 {
    1
}

/// Whether a condition holds now, and when that could change if only the clock moves: the next
/// instant it could stop holding when it holds, the next instant it could start holding when it
/// does not; `None` when it will not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    pub holds: bool,
    pub change: Option<Timestamp>,
}

impl Timing {
    fn new(holds: bool, change: Option<Timestamp>) -> Self {
        Self { holds, change }
    }
}

/// What a condition is evaluated against: the facts, plus what the engine resolved for the rule.
pub(crate) struct Env<'a> {
    pub facts: &'a Facts,
    pub now: Timestamp,
    pub queue: Option<&'a QueueFacts>,
    pub exit_intent_window_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

/// A number comparison: `{"op": "gt", "value": 2}` reads "more than 2".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compare {
    pub op: CmpOp,
    #[serde(serialize_with = "number_as_written")]
    pub value: f64,
}

/// A whole number goes back out as `2`, not `2.0`, so an exported rule reads as it was written.
fn number_as_written<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    number_value(*v).serialize(s)
}

fn number_value(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 9e15 { serde_json::json!(v as i64) } else { serde_json::json!(v) }
}

impl Compare {
    pub fn test(&self, x: f64) -> bool {
        match self.op {
            CmpOp::Gt => x > self.value,
            CmpOp::Ge => x >= self.value,
            CmpOp::Lt => x < self.value,
            CmpOp::Le => x <= self.value,
            CmpOp::Eq => x == self.value,
            CmpOp::Ne => x != self.value,
        }
    }
}

impl fmt::Display for Compare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            CmpOp::Gt => ">",
            CmpOp::Ge => "≥",
            CmpOp::Lt => "<",
            CmpOp::Le => "≤",
            CmpOp::Eq => "=",
            CmpOp::Ne => "≠",
        };
        write!(f, "{op} {}", self.value)
    }
}

/// Local time-of-day window on chosen weekdays in an IANA time zone: `from` inclusive, `to`
/// exclusive. When `to` is not after `from` the window crosses midnight and belongs to the weekday
/// it starts on (`fri 22:00–02:00` includes Saturday 01:00).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LocalWindowSpec", into = "LocalWindowSpec")]
pub struct LocalWindow {
    pub time_zone: TimeZoneName,
    pub from: LocalTime,
    pub to: LocalTime,
    pub weekdays: Weekdays,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalWindowSpec {
    pub time_zone: TimeZoneName,
    #[serde(default = "midnight")]
    pub from: LocalTime,
    #[serde(default = "end_of_day")]
    pub to: LocalTime,
    #[serde(default)]
    pub weekdays: Weekdays,
}

fn midnight() -> LocalTime {
    LocalTime::parse("00:00").expect("valid")
}
fn end_of_day() -> LocalTime {
    LocalTime::parse("24:00").expect("valid")
}

impl TryFrom<LocalWindowSpec> for LocalWindow {
    type Error = FieldError;
    fn try_from(s: LocalWindowSpec) -> Result<Self, FieldError> {
        if s.from == s.to {
            return Err(FieldError::new(
                "from and to are the same time; for the whole day use 00:00 to 24:00",
            ));
        }
        if s.from.minutes() == 1440 {
            return Err(FieldError::new("from must be before 24:00"));
        }
        Ok(Self { time_zone: s.time_zone, from: s.from, to: s.to, weekdays: s.weekdays })
    }
}

impl From<LocalWindow> for LocalWindowSpec {
    fn from(w: LocalWindow) -> Self {
        Self { time_zone: w.time_zone, from: w.from, to: w.to, weekdays: w.weekdays }
    }
}

impl LocalWindow {
    fn wraps(&self) -> bool {
        self.to <= self.from
    }

    pub fn contains(&self, now: Timestamp) -> bool {
        let dt = local_datetime(self.time_zone.time_zone(), now.0);
        let minute = (dt.hour() as u16) * 60 + dt.minute() as u16;
        let (from, to) = (self.from.minutes(), self.to.minutes());
        let today = self.weekdays.contains(dt.weekday());
        if !self.wraps() {
            today && from <= minute && minute < to
        } else {
            (today && minute >= from) || (self.weekdays.contains(dt.weekday().previous()) && minute < to)
        }
    }

    /// The first instant at or after `now` inside the window (within the next 8 days).
    pub fn next_start(&self, now: Timestamp) -> Option<Timestamp> {
        if self.contains(now) {
            return Some(now);
        }
        let tz = self.time_zone.time_zone();
        let mut date = local_datetime(tz, now.0).date();
        for _ in 0..9 {
            if self.weekdays.contains(date.weekday())
                && let Some(t) = instant_of(tz, date, self.from.minutes())
                && t > now.0
            {
                return Some(Timestamp(t));
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// When the window now in force ends (`now` if outside it).
    pub fn current_end(&self, now: Timestamp) -> Option<Timestamp> {
        if !self.contains(now) {
            return Some(now);
        }
        let tz = self.time_zone.time_zone();
        let dt = local_datetime(tz, now.0);
        let minute = (dt.hour() as u16) * 60 + dt.minute() as u16;
        let date = if self.wraps() && minute >= self.from.minutes() {
            dt.date().tomorrow().ok()?
        } else {
            dt.date()
        };
        instant_of(tz, date, self.to.minutes()).map(|t| Timestamp(t.max(now.0 + 1)))
    }
}

impl fmt::Display for LocalWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "local time {}–{} {} ({})", self.from, self.to, self.weekdays, self.time_zone)
    }
}

/// A test on one custom context variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ContextSpec", into = "ContextSpec")]
pub struct ContextCondition {
    pub name: ContextKey,
    pub test: ContextTest,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ContextTest {
    /// The variable is set (to anything).
    Exists,
    /// The variable's value, as text, matches.
    Text(TextMatch),
    /// The variable's value is a number (or text that reads as one) and compares so.
    Number(Compare),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextOp {
    Exists,
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    Glob,
    Regex,
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

/// Rule-file form: `{"name": "Case Id", "op": "exists"}`, `{"name": "Plan", "op": "equals", "value": "gold"}`,
/// `{"name": "Cart total", "op": "ge", "value": 100}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    pub name: ContextKey,
    pub op: ContextOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_case: bool,
}

impl TryFrom<ContextSpec> for ContextCondition {
    type Error = FieldError;
    fn try_from(s: ContextSpec) -> Result<Self, FieldError> {
        use serde_json::Value;
        let text_op = match s.op {
            ContextOp::Equals => Some(TextOp::Equals),
            ContextOp::Contains => Some(TextOp::Contains),
            ContextOp::StartsWith => Some(TextOp::StartsWith),
            ContextOp::EndsWith => Some(TextOp::EndsWith),
            ContextOp::Glob => Some(TextOp::Glob),
            ContextOp::Regex => Some(TextOp::Regex),
            _ => None,
        };
        let cmp_op = match s.op {
            ContextOp::Gt => Some(CmpOp::Gt),
            ContextOp::Ge => Some(CmpOp::Ge),
            ContextOp::Lt => Some(CmpOp::Lt),
            ContextOp::Le => Some(CmpOp::Le),
            ContextOp::Eq => Some(CmpOp::Eq),
            ContextOp::Ne => Some(CmpOp::Ne),
            _ => None,
        };
        let test = if let Some(op) = text_op {
            let value = match s.value {
                Some(Value::String(v)) => v,
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                _ => return Err(FieldError::new(format!("op {:?} needs a text value", s.op))),
            };
            ContextTest::Text(TextMatch::new(op, value, s.ignore_case)?)
        } else if let Some(op) = cmp_op {
            let value = match &s.value {
                Some(Value::Number(n)) => n.as_f64(),
                Some(Value::String(t)) => t.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
                _ => None,
            }
            .ok_or_else(|| {
                FieldError::new(format!("op {:?} compares numbers and needs a number value", s.op))
            })?;
            ContextTest::Number(Compare { op, value })
        } else {
            if s.value.is_some() {
                return Err(FieldError::new("op \"exists\" takes no value"));
            }
            ContextTest::Exists
        };
        Ok(Self { name: s.name, test })
    }
}

impl From<ContextCondition> for ContextSpec {
    fn from(c: ContextCondition) -> Self {
        let (op, value, ignore_case) = match c.test {
            ContextTest::Exists => (ContextOp::Exists, None, false),
            ContextTest::Text(m) => {
                let s = m.spec().clone();
                let op = match s.op {
                    TextOp::Equals => ContextOp::Equals,
                    TextOp::Contains => ContextOp::Contains,
                    TextOp::StartsWith => ContextOp::StartsWith,
                    TextOp::EndsWith => ContextOp::EndsWith,
                    TextOp::Glob => ContextOp::Glob,
                    TextOp::Regex => ContextOp::Regex,
                };
                (op, Some(serde_json::Value::String(s.value)), s.ignore_case)
            }
            ContextTest::Number(cmp) => {
                let op = match cmp.op {
                    CmpOp::Gt => ContextOp::Gt,
                    CmpOp::Ge => ContextOp::Ge,
                    CmpOp::Lt => ContextOp::Lt,
                    CmpOp::Le => ContextOp::Le,
                    CmpOp::Eq => ContextOp::Eq,
                    CmpOp::Ne => ContextOp::Ne,
                };
                (op, Some(number_value(cmp.value)), false)
            }
        };
        Self { name: c.name, op, value, ignore_case }
    }
}

impl ContextCondition {
    fn holds(&self, facts: &Facts) -> bool {
        let Some(var) = facts.context.get(self.name.as_str()) else {
            return false;
        };
        match &self.test {
            ContextTest::Exists => true,
            ContextTest::Text(m) => match &var.value {
                ContextValue::Text(t) => m.matches(t),
                ContextValue::Bool(b) => m.matches(if *b { "true" } else { "false" }),
                ContextValue::Number(n) => m.matches(&n.to_string()),
            },
            ContextTest::Number(cmp) => {
                let x = match &var.value {
                    ContextValue::Number(n) => n.as_f64(),
                    ContextValue::Text(t) => t.trim().parse::<f64>().ok(),
                    ContextValue::Bool(_) => None,
                };
                x.is_some_and(|x| cmp.test(x))
            }
        }
    }
}

/// A test on one UTM parameter of the landing page: `{"param": "source", "op": "equals", "value": "newsletter"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UtmSpec", into = "UtmSpec")]
pub struct UtmCondition {
    pub param: UtmParam,
    pub matcher: TextMatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtmSpec {
    pub param: UtmParam,
    pub op: TextOp,
    pub value: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_case: bool,
}

impl TryFrom<UtmSpec> for UtmCondition {
    type Error = FieldError;
    fn try_from(s: UtmSpec) -> Result<Self, FieldError> {
        Ok(Self {
            param: s.param,
            matcher: TextMatch::try_from(TextMatchSpec {
                op: s.op,
                value: s.value,
                ignore_case: s.ignore_case,
            })?,
        })
    }
}

impl From<UtmCondition> for UtmSpec {
    fn from(u: UtmCondition) -> Self {
        let s = u.matcher.spec().clone();
        Self { param: u.param, op: s.op, value: s.value, ignore_case: s.ignore_case }
    }
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Condition {
    /// Whether the condition holds for these facts at `env.now`.
    pub(crate) fn holds(&self, env: &Env<'_>) -> bool {
        let f = env.facts;
        match self {
            Condition::All(cs) => cs.iter().all(|c| c.holds(env)),
            Condition::Any(cs) => cs.iter().any(|c| c.holds(env)),
            Condition::Not(c) => !c.holds(env),
            Condition::PageUrl(m) => m.matches(&f.page.url),
            Condition::PageTitle(m) => m.matches(&f.page.title),
            Condition::Referrer(m) => m.matches(&f.page.referrer),
            Condition::TimeOnPage { at_least_s } => f.page.visible.elapsed_ms(env.now) >= at_least_s.millis(),
            Condition::TimeOnSite { at_least_s } => f.time_on_site.elapsed_ms(env.now) >= at_least_s.millis(),
            Condition::PageViewsOfPage(c) => c.test(f64::from(f.page.views_of_page)),
            Condition::PageViewsTotal(c) => c.test(f64::from(f.page_views_total)),
            Condition::VisitCount(c) => c.test(f64::from(f.visit_number)),
            Condition::Returning(want) => (f.visit_number > 1) == *want,
            Condition::ExitIntent { after_s } => f.page.exit_intent.is_some_and(|e| {
                e.visible_ms_on_page >= after_s.millis()
                    && e.at >= f.page.started_at
                    && e.at <= env.now
                    && env.now.since(e.at) < env.exit_intent_window_ms
            }),
            Condition::ScrollDepth { at_least_percent } => f.page.scroll_percent >= at_least_percent.get(),
            Condition::Country(list) => f.country.is_some_and(|c| list.as_slice().contains(&c)),
            Condition::Language(list) => {
                f.language.as_deref().is_some_and(|l| list.as_slice().iter().any(|p| p.matches(l)))
            }
            Condition::Device(list) => f.device.is_some_and(|d| list.as_slice().contains(&d)),
            Condition::LocalTime(w) => w.contains(env.now),
            Condition::InOperatingHours(want) => env.queue.is_some_and(|q| q.in_operating_hours == *want),
            Condition::Authenticated(want) => f.authenticated == *want,
            Condition::Context(c) => c.holds(f),
            Condition::Utm(u) => f.utm.get(u.param).is_some_and(|v| u.matcher.matches(v)),
            Condition::Event { name, at_least } => {
                f.events.get(name.as_str()).copied().unwrap_or(0) >= *at_least
            }
        }
    }

    /// A lower bound on the first instant at or after `now` when the condition holds, if only the
    /// clock moves; `None` when it never will. (The engine uses [`Condition::timing`].)
    #[cfg(test)]
    pub(crate) fn next_true(&self, env: &Env<'_>) -> Option<Timestamp> {
        let t = self.timing(env);
        if t.holds { Some(env.now) } else { t.change }
    }

    /// A lower bound on the first instant at or after `now` when the condition stops holding, if
    /// only the clock moves; `None` when it holds for good.
    #[cfg(test)]
    pub(crate) fn next_false(&self, env: &Env<'_>) -> Option<Timestamp> {
        let t = self.timing(env);
        if t.holds { t.change } else { Some(env.now) }
    }

    /// Whether the condition holds now and a lower bound on when that could change, in one pass
    /// over the tree (the engine needs both for every candidate rule, and a leaf such as a regex
    /// should be matched once, not once per question).
    ///
    /// What must hold, and what the engine's timer relies on: `change` is strictly after `now`
    /// whenever it is `Some`. By induction: a leaf that cannot change says `None`, a time leaf
    /// names its future threshold; `all` that fails waits for the latest of its failing children
    /// (each strictly later), `all` that holds for the earliest child to fail; `any` is the dual;
    /// `not` flips `holds` and keeps `change`.
    pub(crate) fn timing(&self, env: &Env<'_>) -> Timing {
        match self {
            Condition::All(cs) => {
                let mut all_hold = true;
                let mut first_false: Option<Timestamp> = None;
                let mut last_true = env.now;
                for c in cs {
                    let t = c.timing(env);
                    if t.holds {
                        first_false = min_opt(first_false, t.change);
                    } else {
                        all_hold = false;
                        // A child that never holds makes the whole `all` never hold.
                        match t.change {
                            None => return Timing::new(false, None),
                            Some(at) => last_true = last_true.max(at),
                        }
                    }
                }
                if all_hold { Timing::new(true, first_false) } else { Timing::new(false, Some(last_true)) }
            }
            Condition::Any(cs) => {
                let mut any_holds = false;
                let mut last_false = env.now;
                let mut first_true: Option<Timestamp> = None;
                for c in cs {
                    let t = c.timing(env);
                    if t.holds {
                        any_holds = true;
                        match t.change {
                            // A child that holds for good makes the whole `any` hold for good.
                            None => return Timing::new(true, None),
                            Some(at) => last_false = last_false.max(at),
                        }
                    } else {
                        first_true = min_opt(first_true, t.change);
                    }
                }
                if any_holds { Timing::new(true, Some(last_false)) } else { Timing::new(false, first_true) }
            }
            Condition::Not(c) => {
                let t = c.timing(env);
                Timing::new(!t.holds, t.change)
            }
            leaf => {
                let holds = leaf.holds(env);
                Timing::new(holds, if holds { leaf.leaf_stops_at(env) } else { leaf.leaf_starts_at(env) })
            }
        }
    }

    /// For a leaf that does not hold now: when it will, if only the clock moves (strictly after
    /// `now`, or `None`).
    fn leaf_starts_at(&self, env: &Env<'_>) -> Option<Timestamp> {
        let f = env.facts;
        match self {
            Condition::TimeOnPage { at_least_s } => f.page.visible.reaches_at(at_least_s.millis(), env.now),
            Condition::TimeOnSite { at_least_s } => f.time_on_site.reaches_at(at_least_s.millis(), env.now),
            Condition::LocalTime(w) => w.next_start(env.now),
            // A signal stamped slightly in the future (clock skew between server nodes) starts
            // counting when its time comes.
            Condition::ExitIntent { after_s } => f.page.exit_intent.and_then(|e| {
                (e.at > env.now && e.at >= f.page.started_at && e.visible_ms_on_page >= after_s.millis())
                    .then_some(e.at)
            }),
            _ => None,
        }
        .filter(|t| *t > env.now)
    }

    /// For a leaf that holds now: when it stops, if only the clock moves (strictly after `now`,
    /// or `None` when it holds for good).
    fn leaf_stops_at(&self, env: &Env<'_>) -> Option<Timestamp> {
        match self {
            Condition::LocalTime(w) => w.current_end(env.now),
            Condition::ExitIntent { .. } => {
                env.facts.page.exit_intent.map(|e| e.at.plus_millis(env.exit_intent_window_ms))
            }
            _ => None,
        }
        .map(|t| t.max(env.now.plus_millis(1)))
    }

    /// What the facts say about this leaf, for the console's "why" view.
    pub(crate) fn observed(&self, env: &Env<'_>) -> Option<String> {
        let f = env.facts;
        let secs = |ms: i64| format!("{} s", ms / 1_000);
        Some(match self {
            Condition::All(_) | Condition::Any(_) | Condition::Not(_) => return None,
            Condition::PageUrl(_) => format!("{:?}", f.page.url),
            Condition::PageTitle(_) => format!("{:?}", f.page.title),
            Condition::Referrer(_) => format!("{:?}", f.page.referrer),
            Condition::TimeOnPage { .. } => secs(f.page.visible.elapsed_ms(env.now)),
            Condition::TimeOnSite { .. } => secs(f.time_on_site.elapsed_ms(env.now)),
            Condition::PageViewsOfPage(_) => f.page.views_of_page.to_string(),
            Condition::PageViewsTotal(_) => f.page_views_total.to_string(),
            Condition::VisitCount(_) | Condition::Returning(_) => format!("visit {}", f.visit_number),
            Condition::ExitIntent { .. } => match f.page.exit_intent {
                None => "no exit intent on this page".to_owned(),
                Some(e) => format!(
                    "exit intent {} s ago, after {} on the page",
                    env.now.since(e.at) / 1_000,
                    secs(e.visible_ms_on_page)
                ),
            },
            Condition::ScrollDepth { .. } => format!("{}%", f.page.scroll_percent),
            Condition::Country(_) => f.country.map_or_else(|| "unknown".to_owned(), |c| c.to_string()),
            Condition::Language(_) => f.language.clone().unwrap_or_else(|| "unknown".to_owned()),
            Condition::Device(_) => f.device.map_or_else(|| "unknown".to_owned(), |d| d.to_string()),
            Condition::LocalTime(w) => {
                let dt = local_datetime(w.time_zone.time_zone(), env.now.0);
                format!("{} {:02}:{:02}", dt.weekday_name(), dt.hour(), dt.minute())
            }
            Condition::InOperatingHours(_) => match env.queue {
                None => "target queue unknown".to_owned(),
                Some(q) if q.in_operating_hours => "open".to_owned(),
                Some(_) => "closed".to_owned(),
            },
            Condition::Authenticated(_) => f.authenticated.to_string(),
            Condition::Context(c) => f
                .context
                .get(c.name.as_str())
                .map_or_else(|| "not set".to_owned(), |v| format!("{:?}", v.value.display())),
            Condition::Utm(u) => {
                f.utm.get(u.param).map_or_else(|| "not set".to_owned(), |v| format!("{v:?}"))
            }
            Condition::Event { name, .. } => {
                format!("{} times", f.events.get(name.as_str()).copied().unwrap_or(0))
            }
        })
    }

    pub(crate) fn children(&self) -> &[Condition] {
        match self {
            Condition::All(cs) | Condition::Any(cs) => cs,
            Condition::Not(c) => std::slice::from_ref(&**c),
            _ => &[],
        }
    }
}

trait WeekdayName {
    fn weekday_name(&self) -> &'static str;
}
impl WeekdayName for jiff::civil::DateTime {
    fn weekday_name(&self) -> &'static str {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][self.weekday().to_monday_zero_offset() as usize]
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// A one-line description of the node (not of its children), as the console lists it.
impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::All(_) => f.write_str("all of"),
            Condition::Any(_) => f.write_str("any of"),
            Condition::Not(_) => f.write_str("not"),
            Condition::PageUrl(m) => write!(f, "page URL {m}"),
            Condition::PageTitle(m) => write!(f, "page title {m}"),
            Condition::Referrer(m) => write!(f, "referrer {m}"),
            Condition::TimeOnPage { at_least_s } => write!(f, "time on page ≥ {at_least_s} s"),
            Condition::TimeOnSite { at_least_s } => write!(f, "time on site this visit ≥ {at_least_s} s"),
            Condition::PageViewsOfPage(c) => write!(f, "views of this page {c}"),
            Condition::PageViewsTotal(c) => write!(f, "page views {c}"),
            Condition::VisitCount(c) => write!(f, "visit number {c}"),
            Condition::Returning(true) => f.write_str("returning visitor"),
            Condition::Returning(false) => f.write_str("first visit"),
            Condition::ExitIntent { after_s } => write!(f, "exit intent after {after_s} s on the page"),
            Condition::ScrollDepth { at_least_percent } => write!(f, "scrolled ≥ {at_least_percent}%"),
            Condition::Country(l) => write!(f, "country in {}", join(l.as_slice())),
            Condition::Language(l) => write!(f, "browser language {}", join(l.as_slice())),
            Condition::Device(l) => write!(f, "device {}", join(l.as_slice())),
            Condition::LocalTime(w) => w.fmt(f),
            Condition::InOperatingHours(true) => f.write_str("inside operating hours"),
            Condition::InOperatingHours(false) => f.write_str("outside operating hours"),
            Condition::Authenticated(true) => f.write_str("authenticated"),
            Condition::Authenticated(false) => f.write_str("not authenticated"),
            Condition::Context(c) => match &c.test {
                ContextTest::Exists => write!(f, "context {:?} is set", c.name.as_str()),
                ContextTest::Text(m) => write!(f, "context {:?} {m}", c.name.as_str()),
                ContextTest::Number(cmp) => write!(f, "context {:?} {cmp}", c.name.as_str()),
            },
            Condition::Utm(u) => write!(f, "{} {}", u.param, u.matcher),
            Condition::Event { name, at_least: 1 } => write!(f, "event {:?} seen", name.as_str()),
            Condition::Event { name, at_least } => {
                write!(f, "event {:?} seen ≥ {at_least} times", name.as_str())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ExitIntent, Stopwatch};
    use beckon_domain::{Context, QueueId};
    use serde_json::json;

    fn cond(v: serde_json::Value) -> Condition {
        serde_json::from_value(v).unwrap()
    }

    fn env<'a>(facts: &'a Facts, queue: Option<&'a QueueFacts>) -> Env<'a> {
        Env { facts, now: facts.now, queue, exit_intent_window_ms: 5_000 }
    }

    fn holds(c: &Condition, f: &Facts) -> bool {
        c.holds(&env(f, None))
    }

    fn base() -> Facts {
        let now = Timestamp(1_700_000_000_000);
        Facts {
            now,
            page: crate::facts::PageFacts {
                url: "https://shop.example/products/surface-book".into(),
                title: "Surface Book".into(),
                referrer: "https://shop.example/FAQ".into(),
                started_at: Timestamp(now.0 - 30_000),
                visible: Stopwatch::started(Timestamp(now.0 - 12_000)),
                views_of_page: 3,
                scroll_percent: 40,
                exit_intent: None,
            },
            visit_started_at: Timestamp(now.0 - 60_000),
            time_on_site: Stopwatch::started(Timestamp(now.0 - 60_000)),
            page_views_total: 7,
            visit_number: 2,
            country: Some(CountryCode::parse("FR").unwrap()),
            language: Some("fr-FR".into()),
            device: Some(DeviceType::Mobile),
            ..Facts::default()
        }
    }

    #[test]
    fn page_conditions() {
        let f = base();
        assert!(holds(&cond(json!({"page_url": {"op": "contains", "value": "/products/"}})), &f));
        assert!(!holds(&cond(json!({"page_url": {"op": "contains", "value": "/support/"}})), &f));
        assert!(holds(
            &cond(json!({"page_title": {"op": "starts_with", "value": "surface", "ignore_case": true}})),
            &f
        ));
        assert!(holds(&cond(json!({"referrer": {"op": "glob", "value": "*shop.example/FAQ"}})), &f));
        assert!(!holds(&cond(json!({"referrer": {"op": "equals", "value": ""}})), &f));
    }

    #[test]
    fn time_conditions_and_their_next_true() {
        let f = base();
        let on_page_20 = cond(json!({"time_on_page": {"at_least_s": 20}}));
        assert!(!holds(&on_page_20, &f));
        assert_eq!(on_page_20.next_true(&env(&f, None)), Some(f.now.plus_millis(8_000)));
        assert!(holds(&cond(json!({"time_on_page": {"at_least_s": 12}})), &f));
        assert!(holds(&cond(json!({"time_on_site": {"at_least_s": 60}})), &f));
        let mut hidden = f.clone();
        hidden.page.visible.pause(f.now);
        assert_eq!(on_page_20.next_true(&env(&hidden, None)), None, "a background tab does not count");
        assert_eq!(on_page_20.next_false(&env(&f, None)), Some(f.now));
    }

    #[test]
    fn count_conditions() {
        let f = base();
        assert!(holds(&cond(json!({"page_views_of_page": {"op": "gt", "value": 2}})), &f));
        assert!(!holds(&cond(json!({"page_views_of_page": {"op": "gt", "value": 3}})), &f));
        assert!(holds(&cond(json!({"page_views_total": {"op": "ge", "value": 7}})), &f));
        assert!(holds(&cond(json!({"visit_count": {"op": "eq", "value": 2}})), &f));
        assert!(holds(&cond(json!({"visit_count": {"op": "ne", "value": 1}})), &f));
        assert!(holds(&cond(json!({"visit_count": {"op": "lt", "value": 3}})), &f));
        assert!(holds(&cond(json!({"visit_count": {"op": "le", "value": 2}})), &f));
        assert!(holds(&cond(json!({"returning": true})), &f));
        assert!(!holds(&cond(json!({"returning": false})), &f));
        assert!(holds(&cond(json!({"scroll_depth": {"at_least_percent": 40}})), &f));
        assert!(!holds(&cond(json!({"scroll_depth": {"at_least_percent": 41}})), &f));
    }

    #[test]
    fn exit_intent_counts_only_after_n_seconds_and_while_fresh() {
        let mut f = base();
        let c = cond(json!({"exit_intent": {"after_s": 15}}));
        assert!(!holds(&c, &f));
        f.page.exit_intent = Some(ExitIntent { at: Timestamp(f.now.0 - 1_000), visible_ms_on_page: 10_000 });
        assert!(!holds(&c, &f), "too early on the page");
        f.page.exit_intent = Some(ExitIntent { at: Timestamp(f.now.0 - 1_000), visible_ms_on_page: 16_000 });
        assert!(holds(&c, &f));
        assert_eq!(c.next_false(&env(&f, None)), Some(f.now.plus_millis(4_000)));
        f.now = f.now.plus_millis(4_000);
        assert!(!holds(&c, &f), "a stale signal no longer counts");
        assert_eq!(c.next_true(&env(&f, None)), None);
    }

    #[test]
    fn timing_combines_children_and_is_always_after_now() {
        let f = base(); // 12 s visible on the page
        let e = env(&f, None);
        let at = |s: i64| Some(f.now.plus_millis(s));
        let t20 = cond(json!({"time_on_page": {"at_least_s": 20}}));
        let t30 = cond(json!({"time_on_page": {"at_least_s": 30}}));
        assert_eq!(t20.timing(&e), Timing::new(false, at(8_000)));
        let all = Condition::All(vec![t20.clone(), t30.clone()]);
        assert_eq!(all.timing(&e), Timing::new(false, at(18_000)), "all waits for the last");
        let any = Condition::Any(vec![t20.clone(), t30.clone()]);
        assert_eq!(any.timing(&e), Timing::new(false, at(8_000)), "any waits for the first");
        let not = Condition::Not(Box::new(t20.clone()));
        assert_eq!(not.timing(&e), Timing::new(true, at(8_000)), "not stops holding when its child starts");
        let never = cond(json!({"country": ["US"]}));
        assert_eq!(Condition::All(vec![t20.clone(), never.clone()]).timing(&e), Timing::new(false, None));
        assert_eq!(Condition::Any(vec![t20.clone(), never]).timing(&e), Timing::new(false, at(8_000)));
        let forever = cond(json!({"country": ["FR"]}));
        assert_eq!(Condition::Any(vec![forever, t20]).timing(&e), Timing::new(true, None));
        // An exit-intent signal stamped a little ahead of the server clock counts from its time.
        let mut g = base();
        g.page.exit_intent = Some(ExitIntent { at: g.now.plus_millis(300), visible_ms_on_page: 16_000 });
        let exit = cond(json!({"exit_intent": {"after_s": 15}}));
        assert_eq!(exit.timing(&env(&g, None)), Timing::new(false, Some(g.now.plus_millis(300))));
        assert_eq!(t30.next_true(&e), at(18_000));
        assert_eq!(t30.next_false(&e), Some(f.now));
    }

    #[test]
    fn visitor_conditions() {
        let mut f = base();
        assert!(holds(&cond(json!({"country": ["be", "fr"]})), &f));
        assert!(!holds(&cond(json!({"country": ["US"]})), &f));
        assert!(holds(&cond(json!({"language": ["fr"]})), &f));
        assert!(!holds(&cond(json!({"language": ["en"]})), &f));
        assert!(holds(&cond(json!({"device": ["mobile", "tablet"]})), &f));
        assert!(!holds(&cond(json!({"device": ["desktop"]})), &f));
        assert!(holds(&cond(json!({"authenticated": false})), &f));
        f.country = None;
        f.language = None;
        f.device = None;
        assert!(!holds(&cond(json!({"country": ["FR"]})), &f), "unknown country never matches");
        assert!(!holds(&cond(json!({"language": ["fr"]})), &f));
        assert!(!holds(&cond(json!({"device": ["mobile"]})), &f));
        f.utm.source = Some("Newsletter".into());
        assert!(holds(
            &cond(
                json!({"utm": {"param": "utm_source", "op": "equals", "value": "newsletter", "ignore_case": true}})
            ),
            &f
        ));
        assert!(!holds(&cond(json!({"utm": {"param": "campaign", "op": "contains", "value": "x"}})), &f));
        f.events.insert("added_to_cart".into(), 2);
        assert!(holds(&cond(json!({"event": {"name": "added_to_cart"}})), &f));
        assert!(holds(&cond(json!({"event": {"name": "added_to_cart", "at_least": 2}})), &f));
        assert!(!holds(&cond(json!({"event": {"name": "added_to_cart", "at_least": 3}})), &f));
        assert!(!holds(&cond(json!({"event": {"name": "checkout"}})), &f));
    }

    #[test]
    fn operating_hours_come_from_the_target_queue() {
        let f = base();
        let open = QueueFacts { in_operating_hours: true, ..QueueFacts::default() };
        let closed = QueueFacts::default();
        let c = cond(json!({"in_operating_hours": true}));
        assert!(c.holds(&env(&f, Some(&open))));
        assert!(!c.holds(&env(&f, Some(&closed))));
        assert!(!c.holds(&env(&f, None)));
        assert!(cond(json!({"in_operating_hours": false})).holds(&env(&f, Some(&closed))));
        let _ = QueueId(1);
    }

    #[test]
    fn context_conditions() {
        let mut f = base();
        f.context = Context::parse(&json!({
            "Case Id": {"value": "CAS-42", "isDisplayable": true},
            "Cart total": 120.5,
            "Seats": "12",
            "VIP": true,
        }))
        .unwrap();
        let yes = [
            json!({"name": "Case Id", "op": "exists"}),
            json!({"name": "Case Id", "op": "starts_with", "value": "cas-", "ignore_case": true}),
            json!({"name": "Case Id", "op": "regex", "value": "^CAS-\\d+$"}),
            json!({"name": "Cart total", "op": "gt", "value": 100}),
            json!({"name": "Cart total", "op": "le", "value": "120.5"}),
            json!({"name": "Seats", "op": "eq", "value": 12}),
            json!({"name": "VIP", "op": "equals", "value": true}),
            json!({"name": "Cart total", "op": "contains", "value": "120"}),
        ];
        for c in yes {
            assert!(holds(&cond(json!({"context": c.clone()})), &f), "{c}");
        }
        let no = [
            json!({"name": "Missing", "op": "exists"}),
            json!({"name": "Case Id", "op": "gt", "value": 1}),
            json!({"name": "VIP", "op": "eq", "value": 1}),
            json!({"name": "Cart total", "op": "lt", "value": 100}),
        ];
        for c in no {
            assert!(!holds(&cond(json!({"context": c.clone()})), &f), "{c}");
        }
        let bad = serde_json::from_value::<Condition>(
            json!({"context": {"name": "X", "op": "gt", "value": "lots"}}),
        );
        assert!(bad.unwrap_err().to_string().contains("needs a number value"));
        let bad = serde_json::from_value::<Condition>(
            json!({"context": {"name": "X", "op": "exists", "value": 1}}),
        );
        assert!(bad.unwrap_err().to_string().contains("takes no value"));
    }

    #[test]
    fn local_time_windows_follow_the_zone_and_weekdays() {
        // 2024-01-05 is a Friday. 17:30 UTC = 18:30 in Paris (winter).
        let fri_1830_paris = Instant::parse("2024-01-05T17:30:00Z").unwrap().millis();
        let w: LocalWindow =
            serde_json::from_value(json!({"time_zone": "Europe/Paris", "from": "09:00", "to": "18:00", "weekdays": ["mon", "tue", "wed", "thu", "fri"]}))
                .unwrap();
        assert!(!w.contains(Timestamp(fri_1830_paris)));
        // Next opening: Monday 09:00 Paris = 08:00 UTC.
        let mon_0900 = Instant::parse("2024-01-08T08:00:00Z").unwrap().millis();
        assert_eq!(w.next_start(Timestamp(fri_1830_paris)), Some(Timestamp(mon_0900)));
        assert!(w.contains(Timestamp(mon_0900)));
        assert_eq!(w.current_end(Timestamp(mon_0900)), Some(Timestamp(mon_0900 + 9 * 3_600_000)));
        // Summer time: 09:00 Paris = 07:00 UTC.
        let jul_mon_0700z = Instant::parse("2024-07-01T07:00:00Z").unwrap().millis();
        assert!(w.contains(Timestamp(jul_mon_0700z)));
        assert!(!w.contains(Timestamp(jul_mon_0700z - 1)));

        let night: LocalWindow = serde_json::from_value(
            json!({"time_zone": "UTC", "from": "22:00", "to": "02:00", "weekdays": ["fri"]}),
        )
        .unwrap();
        let sat_0100 = Instant::parse("2024-01-06T01:00:00Z").unwrap().millis();
        assert!(night.contains(Timestamp(sat_0100)));
        assert_eq!(night.current_end(Timestamp(sat_0100)), Some(Timestamp(sat_0100 + 3_600_000)));
        let fri_2300 = Instant::parse("2024-01-05T23:00:00Z").unwrap().millis();
        assert!(night.contains(Timestamp(fri_2300)));
        assert_eq!(night.current_end(Timestamp(fri_2300)), Some(Timestamp(fri_2300 + 3 * 3_600_000)));
        assert!(!night.contains(Timestamp(sat_0100 + 86_400_000)), "Sunday 01:00 belongs to Saturday night");
        assert!(
            serde_json::from_value::<LocalWindow>(
                json!({"time_zone": "UTC", "from": "10:00", "to": "10:00"})
            )
            .is_err()
        );
        let all_day: LocalWindow = serde_json::from_value(json!({"time_zone": "UTC"})).unwrap();
        assert!(all_day.contains(Timestamp(fri_2300)));

        // Paris skips 02:00–03:00 on 31 March 2024 (the jump is at 01:00 UTC). A window ending
        // at 02:15 ends at the jump, and one starting at 02:30 starts there: the wall clock
        // reads 03:00 from that instant on (found by the next_check_at property test).
        let jump = Instant::parse("2024-03-31T01:00:00Z").unwrap().millis();
        let evening: LocalWindow =
            serde_json::from_value(json!({"time_zone": "Europe/Paris", "from": "17:59", "to": "02:15"}))
                .unwrap();
        let sat_evening = Instant::parse("2024-03-30T18:46:26Z").unwrap().millis();
        assert_eq!(evening.current_end(Timestamp(sat_evening)), Some(Timestamp(jump)));
        assert!(evening.contains(Timestamp(jump - 1)) && !evening.contains(Timestamp(jump)));
        let early: LocalWindow =
            serde_json::from_value(json!({"time_zone": "Europe/Paris", "from": "02:30", "to": "05:00"}))
                .unwrap();
        assert_eq!(early.next_start(Timestamp(sat_evening)), Some(Timestamp(jump)));
        assert!(early.contains(Timestamp(jump)) && !early.contains(Timestamp(jump - 1)));
    }

    #[test]
    fn all_any_not_are_boolean_algebra_on_the_empty_case() {
        let f = base();
        assert!(holds(&Condition::All(vec![]), &f));
        assert!(!holds(&Condition::Any(vec![]), &f));
        assert!(!holds(&Condition::Not(Box::new(Condition::All(vec![]))), &f));
    }

    #[test]
    fn display_reads_like_the_editor() {
        assert_eq!(cond(json!({"time_on_page": {"at_least_s": 20}})).to_string(), "time on page ≥ 20 s");
        assert_eq!(
            cond(json!({"page_url": {"op": "glob", "value": "*/products/*"}})).to_string(),
            "page URL matches glob \"*/products/*\""
        );
        assert_eq!(cond(json!({"country": ["fr", "be"]})).to_string(), "country in FR, BE");
        assert_eq!(
            cond(json!({"context": {"name": "Case Id", "op": "exists"}})).to_string(),
            "context \"Case Id\" is set"
        );
    }

    use crate::fields::Instant;
}
