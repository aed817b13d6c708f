//! Beckon's no-code proactive triggers: the rule model and a pure, time-injected evaluator.
//!
//! An admin writes [`Rule`]s in the console (conditions, an invite, limits, a priority, an optional
//! date window); they travel as JSON and are read with [`Rule::from_json`] / [`rules_from_json`],
//! which parse every field into a type that can only hold a valid value and report problems with
//! the path of the field. [`RuleSet::new`] compiles a widget's rules into evaluation order.
//!
//! For each connected visitor the server keeps [`Facts`] (page, time on page, counters, country,
//! context, queue capacity… and `now`) and a persisted [`History`] (invites shown and dismissed).
//! [`evaluate`] turns rules + [`EngineSettings`] + facts + history into an [`Evaluation`]: the
//! invite to offer, if any, the matching rules a limit held back and why, and the instant at which
//! the answer could next change if only the clock moves — so the server arms one timer per
//! visitor instead of polling. [`explain()`] gives the console's "why" view of the same decision.
//!
//! The crate does no I/O and never reads a clock: the server owns state, timers and time, which is
//! what makes every behaviour here testable by setting `now`. Who calls it: the server's visitor
//! session on every widget event and timer, and the admin API for the rule editor's preview.

pub mod condition;
pub mod engine;
pub mod explain;
pub mod facts;
pub mod fields;
pub mod history;
pub mod message;
pub mod rule;
pub mod text;

pub use condition::{CmpOp, Compare, Condition, ContextCondition, ContextTest, LocalWindow, UtmCondition};
pub use engine::{EngineSettings, Evaluation, Firing, RuleSet, SuppressReason, Suppression, evaluate};
pub use explain::{ConditionTrace, RuleTrace, Verdict, explain};
pub use facts::{ExitIntent, Facts, PageFacts, QueueFacts, Stopwatch, Utm};
pub use fields::{CountryCode, DeviceType, FieldError, RuleId, RuleName};
pub use history::{History, RuleHistory};
pub use message::InviteMessage;
pub use rule::{DateWindow, Frequency, Invite, Limits, Rule, RuleError, rules_from_json};
pub use text::{TextMatch, TextOp};
