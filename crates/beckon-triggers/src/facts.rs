//! What the server knows about one visitor session at the moment of an evaluation.
//!
//! The server keeps a [`Facts`] per connected visitor and updates it from the widget's events
//! (page view, focus/blur, scroll, exit intent, `track(name)`, context changes) and from its own
//! knowledge (GeoIP country, authenticated identity, queue capacity, operating hours). The
//! evaluator only reads it. Times that keep growing while nothing is reported — time on page, time
//! on site — are [`Stopwatch`]es, so the evaluator can compute their value at any `now` and predict
//! when a threshold will be crossed (which is what lets the server arm one timer per visitor
//! instead of polling).
//!
//! Counters that span visits (page views of this URL, total page views, visit number) are kept per
//! visitor by the server, which defines visits (a new one after 30 minutes of inactivity).

use crate::fields::{CountryCode, DeviceType, UtmParam};
use beckon_domain::{Context, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Accumulated visible-and-focused time: what was counted so far, plus the running interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopwatch {
    /// Milliseconds counted before `running_since`.
    pub accumulated_ms: i64,
    /// Set while the page is visible and focused (time is counting).
    pub running_since: Option<Timestamp>,
}

impl Stopwatch {
    /// A stopwatch started at `at` from zero.
    pub fn started(at: Timestamp) -> Self {
        Self { accumulated_ms: 0, running_since: Some(at) }
    }
    /// A stopped stopwatch showing `ms`.
    pub fn stopped(ms: i64) -> Self {
        Self { accumulated_ms: ms, running_since: None }
    }
    pub fn elapsed_ms(&self, now: Timestamp) -> i64 {
        let running = self.running_since.map_or(0, |s| now.since(s).max(0));
        self.accumulated_ms.saturating_add(running)
    }
    /// When the elapsed time first reaches `ms`, if it is counting (never before `now`).
    pub fn reaches_at(&self, ms: i64, now: Timestamp) -> Option<Timestamp> {
        if self.elapsed_ms(now) >= ms {
            return Some(now);
        }
        let since = self.running_since?;
        Some(since.plus_millis(ms.saturating_sub(self.accumulated_ms)).max(now))
    }
    pub fn pause(&mut self, now: Timestamp) {
        self.accumulated_ms = self.elapsed_ms(now);
        self.running_since = None;
    }
    pub fn resume(&mut self, now: Timestamp) {
        if self.running_since.is_none() {
            self.running_since = Some(now);
        }
    }
}

/// The landing page's UTM parameters for this visit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub term: Option<String>,
    pub content: Option<String>,
}

impl Utm {
    pub fn get(&self, p: UtmParam) -> Option<&str> {
        match p {
            UtmParam::Source => self.source.as_deref(),
            UtmParam::Medium => self.medium.as_deref(),
            UtmParam::Campaign => self.campaign.as_deref(),
            UtmParam::Term => self.term.as_deref(),
            UtmParam::Content => self.content.as_deref(),
        }
    }
}

/// The widget's last exit-intent signal on this page (pointer left the document, tab hidden, or
/// a fast scroll up on touch devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitIntent {
    pub at: Timestamp,
    /// Visible time on the page when the signal came, so "after 15 s on the page" is judged at
    /// the moment the visitor tried to leave.
    pub visible_ms_on_page: i64,
}

/// The page the visitor is on now (a single-page-app route change is a new page view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageFacts {
    pub url: String,
    pub title: String,
    /// `document.referrer`; empty when there is none.
    pub referrer: String,
    /// When this page view started (bounds "once per page view").
    pub started_at: Timestamp,
    /// Visible-and-focused time on this page; a background tab does not count.
    pub visible: Stopwatch,
    /// Views of this URL by this visitor, across visits, including this one.
    pub views_of_page: u32,
    /// Deepest scroll on this page, in percent.
    pub scroll_percent: u8,
    pub exit_intent: Option<ExitIntent>,
}

/// Capacity facts for one queue, as the server's presence and routing see them now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFacts {
    pub in_operating_hours: bool,
    /// Some available agent of the queue has a free chat slot.
    pub has_free_agent: bool,
    /// Predicted wait for a new conversation, if the server can predict one.
    pub predicted_wait_s: Option<u32>,
    /// Rule-initiated invites shown for this queue in the last minute (all visitors).
    pub invites_last_minute: u32,
}

/// Everything the evaluator may look at for one visitor, at `now`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub now: Timestamp,
    pub page: PageFacts,
    /// Start of the current visit (bounds "once per visit" and the per-visit cap).
    pub visit_started_at: Timestamp,
    /// Time on the site this visit.
    pub time_on_site: Stopwatch,
    /// Page views by this visitor across visits, including this one.
    pub page_views_total: u32,
    /// 1 for a first visit; a returning visitor has 2 or more.
    pub visit_number: u32,
    pub utm: Utm,
    /// From GeoIP; `None` when unknown (no database, private address), and then country
    /// conditions do not hold.
    pub country: Option<CountryCode>,
    /// The browser's language (`navigator.language`, e.g. `fr-FR`).
    pub language: Option<String>,
    pub device: Option<DeviceType>,
    pub authenticated: bool,
    pub context: Context,
    /// `track(name)` events this visit, by name.
    pub events: BTreeMap<String, u32>,
    /// The visitor is in a conversation: no invite at all.
    pub chatting: bool,
    /// An invite is on screen: no second one.
    pub invite_showing: bool,
    /// The widget's default queue, used by rules that name none.
    pub default_queue: Option<QueueId>,
    pub queues: BTreeMap<QueueId, QueueFacts>,
}

// `Timestamp` has no `Default` (a zero instant is rarely meant), so these are spelled out: the
// defaults describe an empty page view at the Unix epoch, which tests and the server overwrite.
impl Default for PageFacts {
    fn default() -> Self {
        Self {
            url: String::new(),
            title: String::new(),
            referrer: String::new(),
            started_at: Timestamp(0),
            visible: Stopwatch::default(),
            views_of_page: 1,
            scroll_percent: 0,
            exit_intent: None,
        }
    }
}

impl Default for Facts {
    fn default() -> Self {
        Self {
            now: Timestamp(0),
            page: PageFacts::default(),
            visit_started_at: Timestamp(0),
            time_on_site: Stopwatch::default(),
            page_views_total: 1,
            visit_number: 1,
            utm: Utm::default(),
            country: None,
            language: None,
            device: None,
            authenticated: false,
            context: Context::default(),
            events: BTreeMap::new(),
            chatting: false,
            invite_showing: false,
            default_queue: None,
            queues: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwatch_counts_only_while_running() {
        let mut s = Stopwatch::started(Timestamp(1_000));
        assert_eq!(s.elapsed_ms(Timestamp(4_000)), 3_000);
        assert_eq!(s.reaches_at(20_000, Timestamp(4_000)), Some(Timestamp(21_000)));
        s.pause(Timestamp(5_000));
        assert_eq!(s.elapsed_ms(Timestamp(50_000)), 4_000);
        assert_eq!(s.reaches_at(20_000, Timestamp(50_000)), None);
        s.resume(Timestamp(60_000));
        assert_eq!(s.elapsed_ms(Timestamp(61_000)), 5_000);
        assert_eq!(s.reaches_at(20_000, Timestamp(61_000)), Some(Timestamp(76_000)));
        assert_eq!(s.reaches_at(1_000, Timestamp(61_000)), Some(Timestamp(61_000)));
        // A start reported slightly in the future (clock skew) counts as zero, not negative.
        assert_eq!(Stopwatch::started(Timestamp(10)).elapsed_ms(Timestamp(5)), 0);
        assert_eq!(Stopwatch::started(Timestamp(10)).reaches_at(100, Timestamp(5)), Some(Timestamp(110)));
    }
}
