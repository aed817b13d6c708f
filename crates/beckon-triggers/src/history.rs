//! What a visitor has already been shown and has dismissed: the memory behind every limit.
//!
//! The server persists one [`History`] per visitor (keyed by the authenticated identity when there
//! is one, so clearing the browser's storage does not reset it) and records into it with
//! [`History::record_shown`] when the widget confirms an invite is on screen, and
//! [`History::record_dismissed`] when the visitor closes one. The evaluator derives every limit
//! from these timestamps and the facts' `now`, `visit_started_at` and `page.started_at`, so there
//! is no counter to reset at midnight or at a new visit: "once per visit" is "not shown since the
//! visit started", the daily cap is "fewer than N shown in the last 24 hours".

use crate::fields::RuleId;
use beckon_domain::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The rolling window of the daily cap.
pub const DAY_MS: i64 = 86_400_000;
/// Shows remembered in the rolling day, newest kept: far above any sensible cap (the
/// engine's daily cap defaults to 4), and a bound on what a visitor reporting "shown" over and
/// over can make the server keep.
pub const MAX_SHOWN: usize = 256;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleHistory {
    pub last_shown_at: Option<Timestamp>,
    pub times_shown: u32,
    pub dismissals: u32,
    pub last_dismissed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub rules: BTreeMap<RuleId, RuleHistory>,
    /// Every invite shown in the last 24 hours (any rule, and SDK- or agent-initiated ones), oldest
    /// first; older entries are dropped as new ones are recorded.
    pub shown: Vec<Timestamp>,
    /// Dismissals by this visitor, all rules together: each makes the next cooldown longer.
    pub dismissals: u32,
    pub last_dismissed_at: Option<Timestamp>,
    /// When the visitor last started a chat: no rule invites them again in the same visit.
    /// (Histories stored before this field read as "never".)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_chat_at: Option<Timestamp>,
}

impl History {
    /// The visitor started a chat at `at`.
    pub fn record_chat(&mut self, at: Timestamp) {
        self.last_chat_at = Some(self.last_chat_at.map_or(at, |t| t.max(at)));
    }

    pub fn rule(&self, id: RuleId) -> Option<&RuleHistory> {
        self.rules.get(&id)
    }

    /// An invite of rule `id` appeared on the visitor's screen at `at`.
    pub fn record_shown(&mut self, id: RuleId, at: Timestamp) {
        let r = self.rules.entry(id).or_default();
        r.last_shown_at = Some(r.last_shown_at.map_or(at, |t| t.max(at)));
        r.times_shown = r.times_shown.saturating_add(1);
        self.record_shown_other(at);
    }

    /// An invite not started by a rule (the page's SDK call, an agent) appeared at `at`: it uses
    /// the same attention budget.
    pub fn record_shown_other(&mut self, at: Timestamp) {
        let pos = self.shown.partition_point(|t| *t <= at);
        self.shown.insert(pos, at);
        let newest = self.shown.last().copied().unwrap_or(at);
        self.shown.retain(|t| newest.since(*t) < DAY_MS);
        if let Some(over) = self.shown.len().checked_sub(MAX_SHOWN) {
            self.shown.drain(..over);
        }
    }

    /// The visitor closed rule `id`'s invite at `at` (or any invite, when `id` is `None`).
    pub fn record_dismissed(&mut self, id: Option<RuleId>, at: Timestamp) {
        if let Some(id) = id {
            let r = self.rules.entry(id).or_default();
            r.dismissals = r.dismissals.saturating_add(1);
            r.last_dismissed_at = Some(at);
        }
        self.dismissals = self.dismissals.saturating_add(1);
        self.last_dismissed_at = Some(self.last_dismissed_at.map_or(at, |t| t.max(at)));
    }

    /// Invites shown since `since` (inclusive) and within the last 24 hours of `now`.
    pub(crate) fn shown_since(&self, since: Timestamp, now: Timestamp) -> usize {
        let from = since.max(Timestamp(now.0.saturating_sub(DAY_MS - 1)));
        self.shown.len() - self.shown.partition_point(|t| *t < from)
    }

    /// When the count of [`History::shown_since`] drops below `cap`, given that it is at or above
    /// it now: entries only ever leave that count by ageing out of the rolling day. `None` when
    /// it never will (a cap of zero).
    pub(crate) fn cap_lifts_at(&self, since: Timestamp, cap: u32, now: Timestamp) -> Option<Timestamp> {
        let from = since.max(Timestamp(now.0.saturating_sub(DAY_MS - 1)));
        let recent = &self.shown[self.shown.partition_point(|t| *t < from)..];
        let over = recent.len().checked_sub(cap as usize)?;
        recent.get(over).map(|t| t.plus_millis(DAY_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_counts_in_a_rolling_day() {
        let mut h = History::default();
        h.record_shown(RuleId(1), Timestamp(1_000));
        h.record_shown(RuleId(2), Timestamp(5_000));
        h.record_shown_other(Timestamp(3_000));
        assert_eq!(h.shown, [Timestamp(1_000), Timestamp(3_000), Timestamp(5_000)]);
        assert_eq!(h.rule(RuleId(1)).unwrap().times_shown, 1);
        assert_eq!(h.shown_since(Timestamp(2_000), Timestamp(6_000)), 2);
        assert_eq!(h.shown_since(Timestamp(0), Timestamp(1_000 + DAY_MS)), 2);
        // Cap 2 reached: it lifts when the second-newest-but-one ages out.
        assert_eq!(h.cap_lifts_at(Timestamp(0), 2, Timestamp(6_000)), Some(Timestamp(3_000 + DAY_MS)));
        assert_eq!(h.cap_lifts_at(Timestamp(0), 3, Timestamp(6_000)), Some(Timestamp(1_000 + DAY_MS)));
        assert_eq!(h.cap_lifts_at(Timestamp(0), 4, Timestamp(6_000)), None);
        // Counting only since 2 000 (a visit's start): two entries, the older lifts a cap of 2.
        assert_eq!(h.cap_lifts_at(Timestamp(2_000), 2, Timestamp(6_000)), Some(Timestamp(3_000 + DAY_MS)));
        for i in 0..1_000 {
            h.record_shown_other(Timestamp(10_000 + i));
        }
        assert_eq!(h.shown.len(), MAX_SHOWN, "bounded");
        assert_eq!(h.shown.last(), Some(&Timestamp(10_999)), "the newest are kept");
        h.record_shown(RuleId(1), Timestamp(2 * DAY_MS));
        assert_eq!(h.shown, [Timestamp(2 * DAY_MS)]);
        h.record_dismissed(Some(RuleId(1)), Timestamp(2 * DAY_MS + 10));
        h.record_dismissed(None, Timestamp(2 * DAY_MS + 20));
        assert_eq!(h.dismissals, 2);
        assert_eq!(h.rule(RuleId(1)).unwrap().dismissals, 1);
        assert_eq!(h.last_dismissed_at, Some(Timestamp(2 * DAY_MS + 20)));
    }
}
