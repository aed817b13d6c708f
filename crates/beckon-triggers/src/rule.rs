//! A trigger rule as an admin writes it: conditions, an invite, limits, priority, enabled flag and
//! an optional date window — and the one place rules are read from JSON.
//!
//! A [`Rule`] value is always valid: every field is a parsed newtype, regexes and globs are already
//! compiled, the message template already parsed. Reading goes through [`Rule::from_json`] (or
//! [`rules_from_json`] for an exported list), which reports the first problem with the path of the
//! offending field — `conditions.all[2].page_url: invalid regex "(": unclosed group` — so the
//! console can point at it. Serializing gives back the admin's own spelling, so export → import
//! round-trips.

use crate::condition::Condition;
use crate::fields::{Days, DelayMs, ExpiryMs, FieldError, Instant, Language, RuleId, RuleName};
use crate::message::InviteMessage;
use beckon_domain::{QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: RuleId,
    pub name: RuleName,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Higher goes first; ties go to the lower id.
    #[serde(default)]
    pub priority: i32,
    pub conditions: Condition,
    pub invite: Invite,
    #[serde(default)]
    pub limits: Limits,
    /// The rule is live only inside this window (a holiday sale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_window: Option<DateWindow>,
}

fn yes() -> bool {
    true
}

/// What the visitor is offered when the rule fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    /// Plain text; `{context:Variable Name}` is replaced by the visitor's context value.
    pub message: InviteMessage,
    /// The message in the widget's other languages (`{"fr": "Bonjour ! …"}`), for visitors whose
    /// widget speaks that language; the others read `message`. Same placeholders.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub translations: std::collections::BTreeMap<Language, InviteMessage>,
    /// Show the pre-chat survey before the chat starts (scenario 8).
    #[serde(default)]
    pub prechat: bool,
    /// Queue the conversation goes to; the widget's default queue when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<QueueId>,
    /// How long the invite stays on screen; the engine's default (60 s) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_ms: Option<ExpiryMs>,
    /// Wait this long after the rule matches before showing the invite.
    #[serde(default = "no_delay")]
    pub delay_ms: DelayMs,
}

fn no_delay() -> DelayMs {
    DelayMs::new(0).expect("0 is in range")
}

/// How often one rule may invite the same visitor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    OncePerPageView,
    #[default]
    OncePerVisit,
    OncePerVisitor,
    /// At most once in any `n`-day span.
    OncePerDays(Days),
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frequency::OncePerPageView => f.write_str("once per page view"),
            Frequency::OncePerVisit => f.write_str("once per visit"),
            Frequency::OncePerVisitor => f.write_str("once per visitor"),
            Frequency::OncePerDays(d) => write!(f, "once every {d} days"),
        }
    }
}

/// The rule's own limits; the visitor-wide attention budget lives in the engine settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default)]
    pub frequency: Frequency,
    /// Do not invite unless an available agent of the target queue has a free chat slot.
    #[serde(default = "yes")]
    pub require_free_agent: bool,
    /// Do not invite when the target queue's predicted wait is longer than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_s: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Self { frequency: Frequency::default(), require_free_agent: true, max_wait_s: None }
    }
}

/// `from` inclusive, `to` exclusive, as RFC 3339 instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DateWindowSpec", into = "DateWindowSpec")]
pub struct DateWindow {
    from: Instant,
    to: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateWindowSpec {
    pub from: Instant,
    pub to: Instant,
}

impl TryFrom<DateWindowSpec> for DateWindow {
    type Error = FieldError;
    fn try_from(s: DateWindowSpec) -> Result<Self, FieldError> {
        if s.to <= s.from {
            return Err(FieldError::new(format!("the window ends ({}) before it starts ({})", s.to, s.from)));
        }
        Ok(Self { from: s.from, to: s.to })
    }
}

impl From<DateWindow> for DateWindowSpec {
    fn from(w: DateWindow) -> Self {
        Self { from: w.from, to: w.to }
    }
}

impl DateWindow {
    pub fn new(from: Instant, to: Instant) -> Result<Self, FieldError> {
        Self::try_from(DateWindowSpec { from, to })
    }
    pub fn from(&self) -> Instant {
        self.from
    }
    pub fn to(&self) -> Instant {
        self.to
    }
    pub fn contains(&self, now: Timestamp) -> bool {
        self.from.millis() <= now.0 && now.0 < self.to.millis()
    }
}

impl fmt::Display for DateWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "between {} and {}", self.from, self.to)
    }
}

/// Why a rule (or a list of rules) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A field is missing, unknown or invalid; `path` is where (`conditions.all[2].page_url`).
    #[error("{path}: {message}")]
    Field { path: String, message: String },
    #[error("the rule is not valid JSON (line {line}, column {column}): {message}")]
    Syntax { line: usize, column: usize, message: String },
}

impl RuleError {
    fn from_serde(e: serde_path_to_error::Error<serde_json::Error>, root: &str) -> Self {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut message = inner.to_string();
        if inner.line() > 0
            && let Some(i) = message.rfind(" at line ")
        {
            message.truncate(i);
        }
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => {
                RuleError::Syntax { line: inner.line(), column: inner.column(), message }
            }
            serde_json::error::Category::Data => {
                RuleError::Field { path: if path == "." { root.to_owned() } else { path }, message }
            }
        }
    }
}

impl Rule {
    /// Reads one rule from JSON text.
    pub fn from_json(text: &str) -> Result<Rule, RuleError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let rule = serde_path_to_error::deserialize(de).map_err(|e| RuleError::from_serde(e, "rule"))?;
        Ok(rule)
    }

    /// Reads one rule from a JSON value (a request body, a database column).
    pub fn from_json_value(value: &serde_json::Value) -> Result<Rule, RuleError> {
        serde_path_to_error::deserialize(value).map_err(|e| RuleError::from_serde(e, "rule"))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a rule always serializes")
    }
}

/// Reads an exported list of rules (`[{…}, {…}]`); paths start with the index (`[3].invite.message`).
pub fn rules_from_json(text: &str) -> Result<Vec<Rule>, RuleError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| RuleError::from_serde(e, "rules"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> serde_json::Value {
        json!({
            "id": 1,
            "name": "Product page, 20 s",
            "conditions": {"all": [
                {"page_url": {"op": "contains", "value": "/products/"}},
                {"time_on_page": {"at_least_s": 20}}
            ]},
            "invite": {"message": "Hi! Just checking in to see if I can help answer any questions you may have."}
        })
    }

    #[test]
    fn defaults_are_filled_and_round_trip() {
        let r = Rule::from_json_value(&minimal()).unwrap();
        assert!(r.enabled);
        assert_eq!(r.priority, 0);
        assert_eq!(r.limits, Limits::default());
        assert_eq!(r.limits.frequency, Frequency::OncePerVisit);
        assert_eq!(r.invite.delay_ms.get(), 0);
        let again = Rule::from_json_value(&r.to_json()).unwrap();
        assert_eq!(again, r);
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(Rule::from_json(&text).unwrap(), r);
    }

    #[test]
    fn every_field_round_trips() {
        let v = json!({
            "id": 9, "name": "Everything", "enabled": false, "priority": -3,
            "conditions": {"any": [
                {"not": {"authenticated": true}},
                {"local_time": {"time_zone": "Europe/Paris", "from": "09:00", "to": "18:00", "weekdays": ["mon", "fri"]}},
                {"context": {"name": "Plan", "op": "equals", "value": "gold", "ignore_case": true}},
                {"context": {"name": "Total", "op": "ge", "value": 100.5}},
                {"utm": {"param": "campaign", "op": "glob", "value": "xmas-*"}},
                {"event": {"name": "cart", "at_least": 2}},
                {"exit_intent": {"after_s": 15}},
                {"device": ["tablet"]},
                {"language": ["fr"]},
                {"page_views_total": {"op": "gt", "value": 4}}
            ]},
            "invite": {"message": "Case {context:Case Id}", "prechat": true, "queue_id": 4, "expiry_ms": 30000, "delay_ms": 2000},
            "limits": {"frequency": {"once_per_days": 7}, "require_free_agent": false, "max_wait_s": 120},
            "date_window": {"from": "2019-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
        });
        let r = Rule::from_json_value(&v).unwrap();
        assert_eq!(r.to_json(), v);
    }

    #[test]
    fn numbers_are_read_exactly_and_round_trip_through_text() {
        // Found by fuzzing (fuzz/ `context`, the same JSON reading as rules): without serde_json's
        // `float_roundtrip` feature a number could be read one unit in the last place off, both
        // as written and after export → import.
        let text = r#"{"id": 1, "name": "n", "invite": {"message": "m"}, "conditions": {"any": [
            {"page_views_total": {"op": "gt", "value": 1044674720236854775808}},
            {"context": {"name": "Total", "op": "ge", "value": 1.0446747202368548e21}}]}}"#;
        let r = Rule::from_json(text).unwrap();
        let exact = 1_044_674_720_236_854_775_808.0_f64;
        let Condition::Any(conditions) = &r.conditions else { panic!("{:?}", r.conditions) };
        let Condition::PageViewsTotal(cmp) = &conditions[0] else { panic!("{conditions:?}") };
        assert_eq!(cmp.value, exact);
        let exported = serde_json::to_string(&r).unwrap();
        assert_eq!(Rule::from_json(&exported).unwrap(), r);
        assert_eq!(rules_from_json(&format!("[{exported}]")).unwrap(), [r]);
    }

    #[test]
    fn invite_translations_are_languages_the_widget_speaks() {
        let mut v = minimal();
        v["invite"]["translations"] = json!({"FR": "Bonjour {context:Name} !"});
        let rule = Rule::from_json_value(&v).unwrap();
        assert_eq!(rule.to_json()["invite"]["translations"], json!({"fr": "Bonjour {context:Name} !"}));
        v["invite"]["translations"] = json!({"de": "Hallo"});
        let e = Rule::from_json_value(&v).unwrap_err().to_string();
        assert!(e.starts_with("invite.translations.de: \"de\" is not a language the widget speaks"), "{e}");
        v["invite"]["translations"] = json!({"fr": "Bonjour {context:Name"});
        let e = Rule::from_json_value(&v).unwrap_err().to_string();
        assert!(e.starts_with("invite.translations.fr: a '{' is never closed"), "{e}");
        // Without translations nothing is written back.
        assert!(Rule::from_json_value(&minimal()).unwrap().to_json()["invite"].get("translations").is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let mut v = minimal();
        v["conditions"]["all"][1] = json!({"page_url": {"op": "regex", "value": "("}});
        assert_eq!(
            Rule::from_json_value(&v).unwrap_err().to_string(),
            "conditions.all[1].page_url: invalid regex \"(\": unclosed group"
        );
        let mut v = minimal();
        v["invite"]["message"] = json!("Case {context:Case Id");
        let e = Rule::from_json_value(&v).unwrap_err().to_string();
        assert!(e.starts_with("invite.message: a '{' is never closed"), "{e}");
        let mut v = minimal();
        v["conditions"]["all"][0] = json!({"country": ["France"]});
        let e = Rule::from_json_value(&v).unwrap_err().to_string();
        assert!(e.starts_with("conditions.all[0].country[0]: \"France\" is not a country code"), "{e}");
        let mut v = minimal();
        v["conditions"]["all"][0] = json!({"page_ur": {"op": "equals", "value": "x"}});
        let e = Rule::from_json_value(&v).unwrap_err().to_string();
        assert!(e.starts_with("conditions.all[0]: unknown variant `page_ur`"), "{e}");
        let mut v = minimal();
        v["date_window"] = json!({"from": "2024-02-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"});
        let e = Rule::from_json_value(&v).unwrap_err().to_string();
        assert!(e.starts_with("date_window: the window ends"), "{e}");
        let mut v = minimal();
        v.as_object_mut().unwrap().remove("name");
        assert_eq!(Rule::from_json_value(&v).unwrap_err().to_string(), "rule: missing field `name`");
        let mut v = minimal();
        v["invite"]["expiry_ms"] = json!(10);
        let e = Rule::from_json_value(&v).unwrap_err().to_string();
        assert!(
            e.starts_with("invite.expiry_ms: the invite expiry in milliseconds must be between 1000"),
            "{e}"
        );
        let e = Rule::from_json("{\"id\": 1,").unwrap_err();
        assert!(matches!(e, RuleError::Syntax { line: 1, .. }), "{e}");
        let list = format!("[{}, {{\"id\": 2}}]", minimal());
        let e = rules_from_json(&list).unwrap_err().to_string();
        assert_eq!(e, "[1]: missing field `name`");
    }

    #[test]
    fn date_windows_are_half_open() {
        let w = DateWindow::new(Instant::from_millis(1_000).unwrap(), Instant::from_millis(2_000).unwrap())
            .unwrap();
        assert!(!w.contains(Timestamp(999)));
        assert!(w.contains(Timestamp(1_000)));
        assert!(!w.contains(Timestamp(2_000)));
    }
}
