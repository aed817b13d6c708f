//! The trigger runtime: runs the organisation's no-code proactive rules (`beckon-triggers`) for
//! every connected visitor, and sends the invites they call for.
//!
//! `beckon-triggers` is pure: it turns rules + facts + history + `now` into a decision. This
//! module owns everything around it: the facts of each live visitor (kept up to date from the
//! widget's page views and signals, GeoIP, sign-in, chat state, and the target queues' capacity),
//! the persisted history of invites shown and dismissed (keyed by the signed-in identity when
//! there is one), the rules of each organisation (cached, replaced through the admin API), the
//! per-queue pacing count, and each visitor's next wake-up (one schedule, one task, for all).
//!
//! Evaluation is event-driven: a page view, a signal (visibility, scroll, exit intent, a custom
//! event, a context change), sign-in, a chat ending or an invite outcome re-evaluates that one
//! visitor; and when the evaluator says the answer could change with time alone
//! (`next_check_at`, e.g. "20 s on the page" or a delay), a timer on the injected clock wakes it
//! at that instant. Nothing polls all visitors.

use crate::chat::{Chat, ChatError};
use crate::config::LimitSettings;
use crate::hub::{Hub, Registration};
use crate::timers::{Schedule, Timers};
use crate::visitor_auth::Identity;
use beckon_domain::events::{Event, Invite, Topic};
use beckon_domain::invite::InviteOutcome;
use beckon_domain::model::{PageView, Visit, Widget};
use beckon_domain::{AgentId, Context, OrgId, QueueId, Timestamp, VisitorId, WidgetId};
use beckon_store::{NewInviteEvent, Store, StoreError};
use beckon_triggers::{
    CountryCode, DeviceType, EngineSettings, ExitIntent, Facts, History, PageFacts, QueueFacts, Rule, RuleId,
    RuleSet, RuleTrace, Stopwatch, Utm,
};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long a queue's capacity facts are reused before they are read again.
const CAPACITY_TTL: Duration = Duration::from_millis(500);
/// A rule held back by capacity (no free agent, wait too long, queue closed) is looked at again
/// after this long, as agents free up without any visitor event.
const CAPACITY_RETRY_MS: i64 = 10_000;
/// How long a visitor whose last tab disconnected is remembered, for the widget to reconnect.
const RECONNECT_GRACE_MS: i64 = 60_000;
/// An invite the widget never reports back on stops blocking others this long after it expires.
const INVITE_GRACE_MS: i64 = 5_000;
/// Pacing counts rule invites sent to a queue over this window.
const PACING_WINDOW_MS: i64 = 60_000;
/// How often a history update is retried when another node changed it in between.
const HISTORY_CAS_ATTEMPTS: usize = 8;
/// Cluster events queued for the trigger runtime (rule changes are rare).
pub const CLUSTER_INBOX: usize = 256;

/// What the widget reports about the page besides page views.
#[derive(Debug, Clone)]
pub enum Signal {
    /// The page became visible and focused (`true`) or not: only visible time counts.
    Visible(bool),
    /// The deepest scroll on this page so far, in percent.
    Scroll(u8),
    /// The pointer left the document, the tab was hidden, or a fast scroll up on touch devices.
    ExitIntent,
    /// `track(name)` from the page.
    Track(String),
    /// The page's context (`setContextProvider` values), for context conditions.
    Context(Context),
}

/// What a connecting tab knows about its visitor.
pub struct Arrival<'a> {
    pub widget: &'a Widget,
    pub visitor: VisitorId,
    pub visit: &'a Visit,
    pub page: Option<&'a PageView>,
    /// `false` when the widget reconnected on the page it was already on.
    pub new_page_view: bool,
    /// With a reconnect: the page's visible time so far, as the widget counted it.
    pub visible_ms: Option<u64>,
    pub chatting: bool,
}

struct Tracked {
    org: OrgId,
    widget: WidgetId,
    tabs: u32,
    facts: Facts,
    history: History,
    history_key: String,
    /// The stored history's version this copy was read at (`None`: none stored yet).
    history_version: Option<i64>,
    /// The invite on screen (sent by a rule, an agent or the page): its id and rule.
    showing: Option<(String, Option<RuleId>, Timestamp)>,
    /// A rule that fired with a delay: it is shown when the delay is over if it still fires.
    pending: Option<(RuleId, Timestamp)>,
    /// Suppressions already recorded on this page view, so each is counted once.
    suppressions_recorded: HashSet<(RuleId, &'static str)>,
    /// The signed-in visitor's token context, which wins over the page's on every update.
    token_context: Context,
}

struct CachedCapacity {
    read_at: Instant,
    /// The same moment on the injected clock: a test that moves its clock ages the entry too.
    read_at_clock: Timestamp,
    facts: QueueFacts,
}

pub struct Triggers {
    store: Arc<dyn Store>,
    chat: Arc<Chat>,
    timers: Arc<Timers>,
    settings: EngineSettings,
    limits: LimitSettings,
    rules: Mutex<HashMap<OrgId, Arc<RuleSet>>>,
    /// Boxed: the map's buckets then hold a pointer, not a whole `Tracked` (hundreds of bytes)
    /// — a hash map keeps up to half its buckets empty, and there is one entry per live visitor.
    visitors: Mutex<HashMap<VisitorId, Box<Tracked>>>,
    capacity: Mutex<HashMap<QueueId, CachedCapacity>>,
    /// Rule invites this node sent per queue in the last minute, oldest first: pacing counts
    /// them on top of the stored count (all nodes') until the next read of it.
    sent: Mutex<HashMap<QueueId, VecDeque<Timestamp>>>,
    /// When each visitor must be evaluated again with nothing else happening (see `run_timers`).
    wake_ups: Schedule<VisitorId>,
    me: Weak<Triggers>,
}

impl Triggers {
    pub fn new(
        store: Arc<dyn Store>,
        chat: Arc<Chat>,
        timers: Arc<Timers>,
        settings: EngineSettings,
        limits: LimitSettings,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            store,
            chat,
            timers,
            settings,
            limits,
            rules: Mutex::new(HashMap::new()),
            visitors: Mutex::new(HashMap::new()),
            capacity: Mutex::new(HashMap::new()),
            sent: Mutex::new(HashMap::new()),
            wake_ups: Schedule::default(),
            me: me.clone(),
        })
    }

    fn now(&self) -> Timestamp {
        self.timers.now()
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    // --- rules ------------------------------------------------------------------------------

    /// The organisation's rules, compiled (read from the store once, then cached).
    pub async fn rules_of(&self, org: OrgId) -> Result<Arc<RuleSet>, StoreError> {
        if let Some(set) = self.rules.lock().get(&org) {
            return Ok(set.clone());
        }
        let rules = match self.store.trigger_rules(org).await? {
            Some(json) => beckon_triggers::rules_from_json(&json).unwrap_or_else(|e| {
                // Only rules that parsed were ever stored; a newer server may read older ones.
                tracing::error!(error = %e, org = %org, "stored trigger rules do not parse; using none");
                Vec::new()
            }),
            None => Vec::new(),
        };
        let set = Arc::new(RuleSet::new(rules));
        self.rules.lock().insert(org, set.clone());
        Ok(set)
    }

    /// Replaces the organisation's rules and looks at every live visitor of it again, on every
    /// node (see [`follow_cluster`](Self::follow_cluster)).
    pub async fn set_rules(&self, org: OrgId, rules: Vec<Rule>) -> Result<(), StoreError> {
        let json = serde_json::to_string(&rules).expect("rules serialize");
        self.store.set_trigger_rules(org, &json, self.now()).await?;
        self.rules.lock().insert(org, Arc::new(RuleSet::new(rules)));
        self.chat.publish_cluster(Event::RulesChanged { org_id: org }).await;
        self.evaluate_org(org).await;
        Ok(())
    }

    /// Hears what other nodes changed: rules saved elsewhere are read again; after a gap in the
    /// bus every organisation's are. Runs until `shutdown`.
    /// `cluster` is already subscribed to [`Topic::Cluster`] (so a node hears every change made
    /// after it started).
    pub async fn follow_cluster(
        self: Arc<Self>,
        hub: Arc<Hub>,
        mut cluster: Registration,
        shutdown: CancellationToken,
    ) {
        loop {
            loop {
                let envelope = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    e = cluster.inbox.next() => match e {
                        Some(e) => e,
                        None => break,
                    },
                };
                self.heard(&envelope.event).await;
            }
            // Too slow to keep up (the hub gave up on this inbox): forget every cached rule set
            // and listen again.
            tracing::warn!("the trigger runtime fell behind the cluster's events; rules are read again");
            cluster = hub.register_listener(CLUSTER_INBOX);
            hub.subscribe(cluster.id, Topic::Cluster).await;
            self.rules.lock().clear();
        }
    }

    async fn heard(&self, event: &Event) {
        {
            match event {
                Event::RulesChanged { org_id } => {
                    let org = *org_id;
                    self.rules.lock().remove(&org);
                    self.evaluate_org(org).await;
                }
                Event::Missed => self.rules.lock().clear(),
                _ => {}
            }
        }
    }

    /// Looks again at every live visitor of the organisation on this node.
    async fn evaluate_org(&self, org: OrgId) {
        let of_org: Vec<VisitorId> = {
            let all = self.visitors.lock();
            all.iter().filter(|(_, t)| t.org == org).map(|(id, _)| *id).collect()
        };
        for v in of_org {
            self.evaluate(v).await;
        }
    }

    /// Where an invite the server sent (whichever node sent it: read from its stored `offered`
    /// record) wants the chat to go: the queue a rule's invite named, and the agent who sent an
    /// agent's invite. `(None, None)` for an invite the server does not know (the page's own).
    pub async fn invite_origin(
        &self,
        visitor: VisitorId,
        invite_id: &str,
    ) -> (Option<QueueId>, Option<AgentId>) {
        match self.store.offered_invite(visitor, invite_id).await {
            Ok(Some((queue, source))) => {
                let agent = source.strip_prefix("agent:").and_then(|a| a.parse().ok()).map(AgentId);
                (queue, agent)
            }
            Ok(None) => (None, None),
            Err(e) => {
                tracing::error!(error = %e, "reading an invite failed");
                (None, None)
            }
        }
    }

    // --- visitor lifecycle ------------------------------------------------------------------

    /// A tab connected (after `hello`).
    pub async fn connected(&self, a: Arrival<'_>) -> Result<(), StoreError> {
        let now = self.now();
        let known = {
            let mut all = self.visitors.lock();
            match all.get_mut(&a.visitor) {
                Some(t) => {
                    t.tabs += 1;
                    t.facts.chatting = a.chatting;
                    // The newest connection's facts: the visitor may have changed networks (and
                    // country), or opened this tab in another browser.
                    browser_facts(&mut t.facts, &a.visit.meta);
                    true
                }
                None => false,
            }
        };
        if known {
            match a.page {
                Some(page) if a.new_page_view => self.page_view(a.visitor, page, a.visit).await?,
                _ => self.evaluate(a.visitor).await,
            }
            return Ok(());
        }
        let history_key = format!("visitor:{}", a.visitor);
        let (history, history_version) = self.load_history(&history_key).await?;
        let mut facts = Facts {
            now,
            visit_started_at: a.visit.started_at,
            time_on_site: Stopwatch::started(a.visit.started_at),
            visit_number: u32::try_from(a.visit.number).unwrap_or(u32::MAX),
            chatting: a.chatting,
            default_queue: a.widget.default_queue_id,
            ..Facts::default()
        };
        browser_facts(&mut facts, &a.visit.meta);
        self.visitors.lock().insert(
            a.visitor,
            Box::new(Tracked {
                org: a.widget.org_id,
                widget: a.widget.id,
                tabs: 1,
                facts,
                history,
                history_key,
                history_version,
                showing: None,
                pending: None,
                suppressions_recorded: HashSet::new(),
                token_context: Context::new(),
            }),
        );
        // A reconnecting widget new to this node (another node held its socket, or this one
        // restarted): the counts come from the store, which did not count the page again, and
        // its time on the page goes on from what the widget counted.
        match a.page {
            Some(page) if a.new_page_view => self.page_view(a.visitor, page, a.visit).await,
            Some(page) => self.page_view_from(a.visitor, page, a.visit, a.visible_ms, false).await,
            None => {
                self.evaluate(a.visitor).await;
                Ok(())
            }
        }
    }

    /// A tab closed. With their last tab the visitor is forgotten (the history is stored) — after
    /// a grace period, so a widget that reconnects (a network blip, a server restart) carries on
    /// with its time on the page and counters rather than starting again.
    pub fn disconnected(&self, visitor: VisitorId) {
        let mut all = self.visitors.lock();
        let Some(t) = all.get_mut(&visitor) else { return };
        t.tabs = t.tabs.saturating_sub(1);
        if t.tabs > 0 {
            return;
        }
        self.wake_ups.set(visitor, None);
        let Some(me) = self.me.upgrade() else {
            all.remove(&visitor);
            return;
        };
        let due = self.now().plus_millis(RECONNECT_GRACE_MS);
        tokio::spawn(async move {
            me.timers.sleep_until(due).await;
            let mut all = me.visitors.lock();
            if all.get(&visitor).is_some_and(|t| t.tabs == 0) {
                all.remove(&visitor);
            }
        });
    }

    /// A page view (a new page, or a single-page app's route change).
    pub async fn page_view(
        &self,
        visitor: VisitorId,
        page: &PageView,
        visit: &Visit,
    ) -> Result<(), StoreError> {
        self.page_view_from(visitor, page, visit, None, true).await
    }

    /// The visitor's page: a new view of it (`new_view`), or one this node had not seen that is
    /// already `visible_ms` old (a widget reconnecting to it from another node).
    async fn page_view_from(
        &self,
        visitor: VisitorId,
        page: &PageView,
        visit: &Visit,
        visible_ms: Option<u64>,
        new_view: bool,
    ) -> Result<(), StoreError> {
        let (views_of_page, total) = self.store.page_view_counts(visitor, &page.url).await?;
        let now = self.now();
        // Never more than the visit has lasted (the widget's count is the client's word).
        let visible_ms = visible_ms
            .map_or(0, |ms| i64::try_from(ms).unwrap_or(i64::MAX).min(now.since(visit.started_at).max(0)));
        let page_started = Timestamp(now.0 - visible_ms);
        {
            let mut all = self.visitors.lock();
            let Some(t) = all.get_mut(&visitor) else { return Ok(()) };
            let f = &mut t.facts;
            if f.visit_started_at != visit.started_at {
                // A new visit: the site clock, counters and events of the last one are done.
                f.visit_started_at = visit.started_at;
                f.time_on_site = Stopwatch::started(visit.started_at);
                f.events.clear();
                f.utm = Utm::default();
            }
            f.visit_number = u32::try_from(visit.number).unwrap_or(u32::MAX);
            if f.page_views_total == 0 || f.utm == Utm::default() {
                f.utm = utm_of(&page.url);
            }
            f.page = PageFacts {
                url: page.url.clone(),
                title: page.title.clone(),
                referrer: page.referrer.clone(),
                started_at: page_started,
                visible: Stopwatch::started(page_started),
                views_of_page: views_of_page.max(1),
                scroll_percent: 0,
                exit_intent: None,
            };
            f.page_views_total = total.max(1);
            t.pending = None;
            // An invite does not follow the visitor to the next page: whatever was on screen (or
            // on its way to the page just left) is gone and blocks nothing any more.
            t.showing = None;
            f.invite_showing = false;
            t.suppressions_recorded.clear();
        }
        // For the whole cluster: whichever node's invite was on screen.
        if new_view && let Err(e) = self.store.release_invite(visitor, None).await {
            tracing::error!(error = %e, "releasing the previous page's invite failed");
        }
        self.evaluate(visitor).await;
        Ok(())
    }

    /// Applies a signal and looks at the visitor again. Refused (nothing changes) when it would
    /// grow what is kept for the visitor beyond its bound: a context heavier than
    /// `limits.trigger_context_bytes`, or more distinct `track()` names than
    /// `limits.tracked_event_names` in a visit.
    pub async fn signal(&self, visitor: VisitorId, signal: Signal) -> Result<(), ChatError> {
        let now = self.now();
        {
            let mut all = self.visitors.lock();
            let Some(t) = all.get_mut(&visitor) else { return Ok(()) };
            let f = &mut t.facts;
            match signal {
                Signal::Visible(true) => f.page.visible.resume(now),
                Signal::Visible(false) => f.page.visible.pause(now),
                Signal::Scroll(p) => f.page.scroll_percent = f.page.scroll_percent.max(p.min(100)),
                Signal::ExitIntent => {
                    f.page.exit_intent =
                        Some(ExitIntent { at: now, visible_ms_on_page: f.page.visible.elapsed_ms(now) })
                }
                Signal::Track(name) => {
                    let limit = self.limits.tracked_event_names;
                    if !f.events.contains_key(&name) && f.events.len() >= limit {
                        return Err(ChatError::Invalid(
                            "too_many_events",
                            format!("at most {limit} distinct event names are counted per visit"),
                        ));
                    }
                    let n = f.events.entry(name).or_insert(0);
                    *n = n.saturating_add(1);
                }
                Signal::Context(c) => {
                    let limit = self.limits.trigger_context_bytes;
                    if c.weight() > limit {
                        return Err(ChatError::Invalid(
                            "invalid_context",
                            format!(
                                "the context is {} bytes; trigger rules keep at most {limit} (start_chat takes more)",
                                c.weight()
                            ),
                        ));
                    }
                    // The provider's whole context replaces the last one (the widget sends all
                    // of it each time); the token's variables still win.
                    f.context = c.merged_with(t.token_context.clone());
                }
            }
        }
        self.evaluate(visitor).await;
        Ok(())
    }

    /// The visitor signed in: limits follow the person from now on, and `authenticated`
    /// conditions hold. The token's context variables win over the page's.
    pub async fn authenticated(&self, visitor: VisitorId, widget: WidgetId, identity: &Identity) {
        let (sub, context) = (&identity.sub, &identity.context);
        // The person is the pair (issuer, sub): a widget may trust several identity providers.
        let key = format!("sub:{widget}:{}:{sub}", identity.issuer);
        let anonymous = {
            let mut all = self.visitors.lock();
            let Some(t) = all.get_mut(&visitor) else { return };
            t.facts.authenticated = true;
            t.token_context = context.clone();
            t.facts.context = std::mem::take(&mut t.facts.context).merged_with(context.clone());
            if t.history_key == key {
                None
            } else {
                t.history_key = key;
                t.history_version = None;
                Some(std::mem::take(&mut t.history))
            }
        };
        if let Some(anonymous) = anonymous {
            // The person's stored history, with what this visit did before signing in.
            self.update_history(visitor, |h| *h = merge_history(std::mem::take(h), anonymous.clone())).await;
        }
        self.evaluate(visitor).await;
    }

    /// The visitor's chat started or ended: no invite while chatting, and no rule invite for
    /// the rest of a visit in which they chatted (recorded in the stored history, so every node
    /// and a restart know it).
    pub async fn chatting(&self, visitor: VisitorId, chatting: bool) {
        let now = self.now();
        {
            let mut all = self.visitors.lock();
            let Some(t) = all.get_mut(&visitor) else { return };
            if t.facts.chatting == chatting {
                return;
            }
            t.facts.chatting = chatting;
            if chatting {
                t.history.record_chat(now);
            }
        }
        if chatting {
            self.update_history(visitor, |h| h.record_chat(now)).await;
        }
        self.evaluate(visitor).await;
    }

    /// The widget reported what became of an invite (a rule's, an agent's or the page's own).
    pub async fn invite_outcome(
        &self,
        visitor: VisitorId,
        invite_id: &str,
        source: &str,
        outcome: InviteOutcome,
    ) {
        let now = self.now();
        let rule = source.strip_prefix("rule:").and_then(|r| r.parse::<i64>().ok()).map(RuleId);
        {
            let mut all = self.visitors.lock();
            let Some(t) = all.get_mut(&visitor) else { return };
            let same = t.showing.as_ref().is_some_and(|(id, _, _)| id == invite_id);
            match outcome {
                InviteOutcome::Shown => {
                    record_shown(&mut t.history, rule, now);
                    if !same {
                        t.showing = Some((
                            invite_id.to_owned(),
                            rule,
                            now.plus_millis(self.settings.default_expiry_ms),
                        ));
                    }
                }
                InviteOutcome::Declined => {
                    // Also in memory at once: the evaluation below must see it even if the
                    // store is unavailable.
                    t.history.record_dismissed(rule, now);
                    if same {
                        t.showing = None;
                    }
                }
                InviteOutcome::Accepted | InviteOutcome::Expired | InviteOutcome::Suppressed if same => {
                    t.showing = None
                }
                _ => {}
            }
            t.facts.invite_showing = t.showing.is_some();
        }
        match outcome {
            InviteOutcome::Shown => {
                self.update_history(visitor, |h| record_shown(h, rule, now)).await;
                // An invite this node did not claim (an agent's, the page's own) holds the
                // visitor's screen for the cluster too.
                let until = now.plus_millis(self.settings.default_expiry_ms);
                if let Err(e) = self.store.claim_invite(visitor, invite_id, until, now).await {
                    tracing::error!(error = %e, "claiming a shown invite failed");
                }
            }
            InviteOutcome::Declined => self.update_history(visitor, |h| h.record_dismissed(rule, now)).await,
            _ => {}
        }
        if outcome.is_over()
            && let Err(e) = self.store.release_invite(visitor, Some(invite_id)).await
        {
            tracing::error!(error = %e, "releasing an invite failed");
        }
        self.evaluate(visitor).await;
    }

    /// What the rules know of a live visitor now (tests and diagnostics).
    pub fn facts(&self, visitor: VisitorId) -> Option<Facts> {
        self.visitors.lock().get(&visitor).map(|t| t.facts.clone())
    }

    /// The console's "why" view for one live visitor: every rule, what holds, what held it back.
    pub async fn explain(&self, visitor: VisitorId) -> Option<Vec<RuleTrace>> {
        let org = self.visitors.lock().get(&visitor)?.org;
        let rules = self.rules_of(org).await.ok()?;
        let queues = self.queue_facts(&rules, visitor).await;
        let all = self.visitors.lock();
        let t = all.get(&visitor)?;
        let facts = Facts { now: self.now(), queues, ..t.facts.clone() };
        Some(beckon_triggers::explain(&rules, &self.settings, &facts, &t.history))
    }

    /// The rule editor's preview: which of the organisation's live visitors `rule` matches now.
    pub async fn preview(&self, org: OrgId, rule: Rule) -> Vec<(VisitorId, RuleTrace)> {
        let set = RuleSet::new(vec![Rule { enabled: true, ..rule }]);
        let candidates: Vec<VisitorId> = {
            let all = self.visitors.lock();
            all.iter().filter(|(_, t)| t.org == org && t.tabs > 0).map(|(id, _)| *id).collect()
        };
        let mut out = Vec::new();
        for v in candidates {
            let queues = self.queue_facts(&set, v).await;
            let all = self.visitors.lock();
            let Some(t) = all.get(&v) else { continue };
            let facts = Facts { now: self.now(), queues, ..t.facts.clone() };
            if let Some(trace) = beckon_triggers::explain(&set, &self.settings, &facts, &t.history).pop() {
                out.push((v, trace));
            }
        }
        out
    }

    // --- evaluation -------------------------------------------------------------------------

    /// Looks at one visitor now: sends the invite a rule calls for, records what limits held
    /// back, and arms the visitor's timer for the next instant the answer could change.
    pub async fn evaluate(&self, visitor: VisitorId) {
        if self.evaluate_once(visitor, false).await {
            self.refresh_history(visitor).await;
            self.evaluate_once(visitor, true).await;
        }
    }

    /// One evaluation; true when a rule would fire now and `fresh_history` is false: the caller
    /// reads the stored history and evaluates again before anything is sent.
    async fn evaluate_once(&self, visitor: VisitorId, fresh_history: bool) -> bool {
        // Nobody to invite while the visitor's last tab is away (see `disconnected`).
        let org = self.visitors.lock().get(&visitor).filter(|t| t.tabs > 0).map(|t| t.org);
        let Some(org) = org else {
            return false;
        };
        let rules = match self.rules_of(org).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "loading trigger rules failed");
                return false;
            }
        };
        if rules.active().next().is_none() {
            return false;
        }
        let queues = self.queue_facts(&rules, visitor).await;
        let now = self.now();
        // Suppressions of a visitor not stored yet are recorded once it is (if ever).
        let unstored = self.chat.is_unstored_visitor(visitor);
        let mut to_send = None;
        let mut to_record = Vec::new();
        let mut reload = false;
        {
            let mut all = self.visitors.lock();
            let Some(t) = all.get_mut(&visitor) else { return false };
            // An invite nobody reported back on stops blocking after its expiry.
            if t.showing.as_ref().is_some_and(|(_, _, until)| *until <= now) {
                t.showing = None;
            }
            t.facts.invite_showing = t.showing.is_some();
            t.facts.now = now;
            t.facts.queues = queues;
            let eval = beckon_triggers::evaluate(&rules, &self.settings, &t.facts, &t.history);
            let mut wake = eval.next_check_at;
            for s in &eval.suppressed {
                let code = suppress_code(&s.reason);
                if matches!(code, "no_free_agent" | "wait_too_long" | "queue_closed" | "pacing") {
                    wake = earliest(wake, Some(now.plus_millis(CAPACITY_RETRY_MS)));
                }
                // Being in (or just out of) a chat or another invite is not worth a row per rule.
                if !matches!(code, "chatting" | "chatted_this_visit" | "invite_showing")
                    && !unstored
                    && t.suppressions_recorded.insert((s.rule_id, code))
                {
                    let name = rules.get(s.rule_id).map(|r| r.name.to_string()).unwrap_or_default();
                    to_record.push((s.rule_id, code, name));
                }
            }
            if let Some(fire) = eval.fire {
                let due = match t.pending {
                    Some((rule, due)) if rule == fire.rule_id => due,
                    _ if fire.delay_ms > 0 => {
                        let due = now.plus_millis(fire.delay_ms);
                        t.pending = Some((fire.rule_id, due));
                        due
                    }
                    _ => now,
                };
                if due <= now && !fresh_history {
                    // Another node may have shown or dismissed an invite of this person's since
                    // this copy was read: decide again on the stored history.
                    wake = None;
                    reload = true;
                } else if due <= now {
                    t.pending = None;
                    let invite_id = format!(
                        "rule{}-{}",
                        fire.rule_id.0,
                        crate::auth::new_token().get(..12).unwrap_or("x")
                    );
                    t.showing = Some((
                        invite_id.clone(),
                        Some(fire.rule_id),
                        now.plus_millis(fire.expiry_ms + INVITE_GRACE_MS),
                    ));
                    t.facts.invite_showing = true;
                    wake = earliest(wake, t.showing.as_ref().map(|s| s.2));
                    to_send = Some((t.widget, invite_id, fire, t.showing.as_ref().map_or(now, |s| s.2)));
                } else {
                    wake = earliest(wake, Some(due));
                }
            } else {
                t.pending = None;
            }
            if let Some(until) = t.showing.as_ref().map(|s| s.2) {
                wake = earliest(wake, Some(until));
            }
            if !reload {
                self.arm(visitor, wake.filter(|w| *w > now));
            }
        }
        if reload {
            return true;
        }
        let widget = self.visitors.lock().get(&visitor).map(|t| t.widget);
        if let Some(widget) = widget {
            for (rule, code, name) in to_record {
                let ev = NewInviteEvent {
                    widget_id: widget,
                    queue_id: None,
                    visitor_id: visitor,
                    invite_id: format!("rule{}-p{}", rule.0, now.0),
                    source: format!("rule:{}", rule.0),
                    outcome: InviteOutcome::Suppressed,
                    reason: Some(code.into()),
                    message: name,
                };
                if let Err(e) = self.store.record_invite_event(ev, now).await {
                    tracing::error!(error = %e, "recording a suppressed invite failed");
                }
            }
        }
        if let Some((widget, invite_id, fire, until)) = to_send {
            // The visitor's screen is the cluster's: another node (their other tab) may have
            // claimed it for its own invite a moment ago.
            match self.chat.claim_invite(visitor, &invite_id, until).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!(visitor = %visitor, "another node's invite is on screen");
                    self.withdraw(visitor, &invite_id, now.plus_millis(CAPACITY_RETRY_MS));
                    return false;
                }
                Err(e) => {
                    tracing::error!(error = %e, "claiming the visitor's screen for an invite failed");
                    self.withdraw(visitor, &invite_id, now.plus_millis(CAPACITY_RETRY_MS));
                    return false;
                }
            }
            if let Some(q) = fire.queue_id {
                self.sent.lock().entry(q).or_default().push_back(now);
            }
            tracing::info!(visitor = %visitor, rule = fire.rule_id.0, "trigger rule invites the visitor");
            let invite = Invite {
                invite_id,
                message: fire.message,
                translations: fire.translations,
                prechat: fire.prechat,
                expiry_ms: fire.expiry_ms,
                source: format!("rule:{}", fire.rule_id.0),
            };
            if let Err(e) = self.chat.send_invite(widget, visitor, invite, fire.queue_id).await {
                tracing::error!(error = %e, "sending a rule's invite failed");
            }
        }
        false
    }

    /// An invite decided on but not sent (the screen is taken): the visitor is looked at again
    /// at `retry_at`.
    fn withdraw(&self, visitor: VisitorId, invite_id: &str, retry_at: Timestamp) {
        let mut all = self.visitors.lock();
        let Some(t) = all.get_mut(&visitor) else { return };
        if t.showing.as_ref().is_some_and(|(id, _, _)| id == invite_id) {
            t.showing = None;
            t.facts.invite_showing = false;
        }
        self.arm(visitor, Some(retry_at));
    }

    /// The visitor's next wake-up, replaced on every evaluation.
    fn arm(&self, visitor: VisitorId, at: Option<Timestamp>) {
        self.wake_ups.set(visitor, at);
    }

    /// Evaluates each visitor when its wake-up is due (a time condition may hold now). One task
    /// for all visitors; each due evaluation runs in its own task so a slow one delays no other.
    /// Runs until `shutdown`.
    pub async fn run_timers(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let due = tokio::select! {
                _ = shutdown.cancelled() => return,
                due = self.wake_ups.next_due(&self.timers) => due,
            };
            for visitor in due {
                let me = self.clone();
                tokio::spawn(async move { me.evaluate(visitor).await });
            }
        }
    }

    /// Capacity facts for the queues the rules may invite to (plus the widget's default).
    async fn queue_facts(&self, rules: &RuleSet, visitor: VisitorId) -> BTreeMap<QueueId, QueueFacts> {
        let default = self.visitors.lock().get(&visitor).and_then(|t| t.facts.default_queue);
        let mut wanted: Vec<QueueId> = rules.rules().iter().filter_map(|r| r.invite.queue_id).collect();
        wanted.extend(default);
        wanted.sort();
        wanted.dedup();
        let mut out = BTreeMap::new();
        for q in wanted {
            let cached = {
                let cache = self.capacity.lock();
                let ttl_ms = CAPACITY_TTL.as_millis() as i64;
                let fresh = |c: &&CachedCapacity| {
                    c.read_at.elapsed() < CAPACITY_TTL && self.now().since(c.read_at_clock) < ttl_ms
                };
                cache.get(&q).filter(fresh).map(|c| (c.facts, c.read_at_clock))
            };
            let (mut facts, read_at) = match cached {
                Some(f) => f,
                None => {
                    let now = self.now();
                    let read = async {
                        let c = self.chat.queue_capacity(q).await?;
                        // Pacing counts every node's invites: they are all in the store.
                        let sent =
                            self.store.rule_invites_since(q, Timestamp(now.0 - PACING_WINDOW_MS)).await?;
                        Ok::<_, crate::chat::ChatError>((c, sent))
                    };
                    match read.await {
                        Ok((c, sent)) => {
                            let facts = QueueFacts {
                                in_operating_hours: c.open,
                                has_free_agent: c.free_agent,
                                predicted_wait_s: c.predicted_wait_s,
                                invites_last_minute: sent,
                            };
                            let entry = CachedCapacity { read_at: Instant::now(), read_at_clock: now, facts };
                            self.capacity.lock().insert(q, entry);
                            (facts, now)
                        }
                        Err(e) => {
                            tracing::error!(error = %e, queue = %q, "reading queue capacity failed");
                            (QueueFacts::default(), now)
                        }
                    }
                }
            };
            facts.invites_last_minute = facts.invites_last_minute.saturating_add(self.sent_since(q, read_at));
            out.insert(q, facts);
        }
        out
    }

    /// Forgets cached capacity (an agent's presence or load changed), so the next evaluation
    /// reads it fresh.
    pub fn capacity_changed(&self) {
        self.capacity.lock().clear();
    }

    /// Rule invites this node sent to `queue` at or after `since` (not in the stored count read
    /// then); forgets those older than the pacing window.
    fn sent_since(&self, queue: QueueId, since: Timestamp) -> u32 {
        let now = self.now();
        let mut sent = self.sent.lock();
        let Some(times) = sent.get_mut(&queue) else { return 0 };
        while times.front().is_some_and(|t| now.since(*t) >= PACING_WINDOW_MS) {
            times.pop_front();
        }
        let n = times.iter().filter(|t| **t >= since).count();
        if times.is_empty() {
            sent.remove(&queue);
        }
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The stored history under `key` and its version (`None`: nothing stored yet).
    async fn load_history(&self, key: &str) -> Result<(History, Option<i64>), StoreError> {
        Ok(match self.store.trigger_history(key).await? {
            Some((json, version)) => {
                let history = serde_json::from_str(&json).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, key, "stored trigger history does not parse; starting afresh");
                    History::default()
                });
                (history, Some(version))
            }
            None => (History::default(), None),
        })
    }

    /// Reads the visitor's stored history into memory (another node may have changed it).
    async fn refresh_history(&self, visitor: VisitorId) {
        let key = self.visitors.lock().get(&visitor).map(|t| t.history_key.clone());
        let Some(key) = key else { return };
        match self.load_history(&key).await {
            Ok((history, version)) => {
                let mut all = self.visitors.lock();
                if let Some(t) = all.get_mut(&visitor).filter(|t| t.history_key == key) {
                    if version.is_some() {
                        t.history = history;
                    }
                    t.history_version = version;
                }
            }
            Err(e) => tracing::error!(error = %e, "reading trigger history failed"),
        }
    }

    /// Applies `change` to the visitor's stored history, compare-and-set on its version so two
    /// nodes changing one person's history never overwrite each other; the result replaces the
    /// copy in memory. On a store error the copy in memory (already changed by the caller where
    /// it matters) stays as it is.
    async fn update_history(&self, visitor: VisitorId, change: impl Fn(&mut History)) {
        let key = self.visitors.lock().get(&visitor).map(|t| t.history_key.clone());
        let Some(key) = key else { return };
        for _ in 0..HISTORY_CAS_ATTEMPTS {
            let (mut history, version) = match self.load_history(&key).await {
                Ok(h) => h,
                Err(e) => return tracing::error!(error = %e, "loading trigger history failed"),
            };
            change(&mut history);
            let json = match serde_json::to_string(&history) {
                Ok(j) => j,
                Err(e) => return tracing::error!(error = %e, "encoding trigger history failed"),
            };
            match self.store.set_trigger_history(&key, &json, version, self.now()).await {
                Ok(true) => {
                    let mut all = self.visitors.lock();
                    if let Some(t) = all.get_mut(&visitor).filter(|t| t.history_key == key) {
                        t.history = history;
                        t.history_version = Some(version.map_or(1, |v| v + 1));
                    }
                    return;
                }
                Ok(false) => continue,
                Err(e) => return tracing::error!(error = %e, "saving trigger history failed"),
            }
        }
        tracing::error!(key, "trigger history kept changing under this node; this change is not stored");
    }
}

/// Records an invite as shown: a rule's counts towards that rule's limits too.
fn record_shown(history: &mut History, rule: Option<RuleId>, now: Timestamp) {
    match rule {
        Some(r) => history.record_shown(r, now),
        None => history.record_shown_other(now),
    }
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The reason's machine code, as recorded with a suppressed invite.
fn suppress_code(r: &beckon_triggers::SuppressReason) -> &'static str {
    use beckon_triggers::SuppressReason as R;
    match r {
        R::Chatting => "chatting",
        R::ChattedThisVisit => "chatted_this_visit",
        R::InviteShowing => "invite_showing",
        R::Frequency => "frequency",
        R::VisitCap => "visit_cap",
        R::DailyCap => "daily_cap",
        R::Cooldown { .. } => "cooldown",
        R::MissingContext { .. } => "missing_context",
        R::QueueClosed => "queue_closed",
        R::NoFreeAgent => "no_free_agent",
        R::WaitTooLong { .. } => "wait_too_long",
        R::Pacing => "pacing",
    }
}

/// Two histories of one person (an anonymous visit and their signed-in record) as one.
fn merge_history(mut a: History, b: History) -> History {
    for at in b.shown {
        a.record_shown_other(at);
    }
    for (id, r) in b.rules {
        let mine = a.rules.entry(id).or_default();
        mine.times_shown = mine.times_shown.saturating_add(r.times_shown);
        mine.dismissals = mine.dismissals.saturating_add(r.dismissals);
        mine.last_shown_at = mine.last_shown_at.max(r.last_shown_at);
        mine.last_dismissed_at = mine.last_dismissed_at.max(r.last_dismissed_at);
    }
    a.dismissals = a.dismissals.saturating_add(b.dismissals);
    a.last_dismissed_at = a.last_dismissed_at.max(b.last_dismissed_at);
    a.last_chat_at = a.last_chat_at.max(b.last_chat_at);
    a
}

/// The landing page's `utm_*` parameters.
fn utm_of(url: &str) -> Utm {
    let mut utm = Utm::default();
    let Some(query) = url.split_once('?').map(|(_, q)| q.split('#').next().unwrap_or("")) else {
        return utm;
    };
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "utm_source" => utm.source = Some(v),
            "utm_medium" => utm.medium = Some(v),
            "utm_campaign" => utm.campaign = Some(v),
            "utm_term" => utm.term = Some(v),
            "utm_content" => utm.content = Some(v),
            _ => {}
        }
    }
    utm
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the visitor's connection says about them: the country (GeoIP), the browser's language and
/// the device type.
fn browser_facts(facts: &mut Facts, meta: &beckon_domain::model::VisitMeta) {
    facts.country = meta.country.as_deref().and_then(|c| CountryCode::parse(c).ok());
    facts.language = meta.language.clone();
    facts.device = match meta.device.as_deref() {
        Some("desktop") => Some(DeviceType::Desktop),
        Some("mobile") => Some(DeviceType::Mobile),
        Some("tablet") => Some(DeviceType::Tablet),
        _ => None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_parameters_come_from_the_landing_url() {
        let u = utm_of("https://shop.example/?utm_source=news%20letter&utm_campaign=black+friday&x=1#top");
        assert_eq!(u.source.as_deref(), Some("news letter"));
        assert_eq!(u.campaign.as_deref(), Some("black friday"));
        assert_eq!(u.medium, None);
        assert_eq!(utm_of("https://shop.example/").source, None);
        assert_eq!(utm_of("https://x/?utm_source=%zz%4").source.as_deref(), Some("%zz%4"));
    }
}
