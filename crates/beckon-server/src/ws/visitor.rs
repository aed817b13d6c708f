//! The visitor gateway: one socket per page view of a site that embeds the widget.
//!
//! A session starts with `hello` (widget key, the visitor's token if it has one, the last
//! sequence number it holds). The widget and the page's `Origin` are checked, the visitor is
//! found or created, the visit is counted, and the open conversation (one per visitor at most)
//! is replayed from the client's `last_seq`. After that the session relays the visitor's page
//! views and chat to [`Chat`](crate::chat::Chat), and conversation events back to the browser.

use crate::auth::{new_token, token_hash};
use crate::chat::{ChatError, Seen};
use crate::client_info::ClientInfo;
use crate::hub::SessionId;
use crate::limits::{AddrKey, Held, retry_after_secs};
use crate::new_visitors::new_visitor_id;
use crate::state::AppState;
use crate::triggers::{Arrival, Signal};
use crate::visitor_auth::{AuthError, Identity};
use crate::ws::frames::{ConversationView, Out, Page, QueueStatus, VisitorIn, parse};
use crate::ws::session::{Handler, Replies};
use beckon_domain::events::{Envelope, Event, InviteStatus, LiveVisitor, Topic};
use beckon_domain::message::Sender;
use beckon_domain::model::{PageView, Visit, Visitor, Widget};
use beckon_domain::*;
use beckon_store::{FirstPage, NewInviteEvent, NewPageView, NewVisitor, StoreError};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

const MAX_URL: usize = 2_048;
const MAX_TITLE: usize = 512;
const MAX_INVITE_MESSAGE: usize = 4_000;
const MAX_EVENT_NAME: usize = 100;
/// Invites the server sent that a session remembers (to know the source of their outcomes):
/// an invite is on screen for a minute at most, so a few suffice.
const ISSUED_INVITES_KEPT: usize = 16;
/// Messages sent per replay query.
const REPLAY_PAGE: u32 = 500;

/// What a `hello` frame says.
struct Hello<'a> {
    widget_id: &'a str,
    token: Option<String>,
    last_seq: Option<i64>,
    page: Option<Page>,
    reconnect: bool,
}

pub struct VisitorSession {
    app: AppState,
    sid: SessionId,
    client: ClientInfo,
    /// The client's address as the limits count it.
    addr: AddrKey,
    /// This socket's place among its address's (given back when the session ends).
    _socket: Held<AddrKey>,
    /// `hello` must arrive before this.
    hello_by: tokio::time::Instant,
    ready: Option<Ready>,
}

/// Who said hello: a visitor in the store, or a new one held in memory until it does something.
enum Who {
    Stored(Visitor),
    New(NewVisitor),
    /// A visitor not stored yet, coming back (another tab, the next page, a reconnect).
    Joined(NewVisitor),
}

impl Who {
    fn id(&self) -> VisitorId {
        match self {
            Who::Stored(v) => v.id,
            Who::New(record) | Who::Joined(record) => record.id,
        }
    }
}

struct Ready {
    /// This tab's place among the visitor's.
    _tab: Held<VisitorId>,
    /// The visitor is in the store (else it is held in `new_visitors` until it does something).
    stored: bool,
    /// This tab added or joined the visitor in `new_visitors` (and leaves it when it closes).
    registered: bool,
    widget: Arc<Widget>,
    visitor: Visitor,
    visit: Visit,
    conversation: Option<ConversationId>,
    /// The highest seq of that conversation this socket has been given or skipped (agent-only
    /// notes): messages reach the client in seq order with no gap (see `on_event`).
    delivered: i64,
    /// Set once the visitor presented a valid token.
    identity: Option<Identity>,
    /// Invites the server sent to this visitor: id → source (`agent:…`, `rule:…`). Outcomes the
    /// widget reports for other ids can only be the SDK's own.
    /// The most recent [`ISSUED_INVITES_KEPT`], oldest first.
    issued_invites: VecDeque<(String, String)>,
    /// The page the visitor is on (for routing rules).
    page_url: Option<String>,
}

impl VisitorSession {
    pub fn new(
        app: AppState,
        sid: SessionId,
        client: ClientInfo,
        addr: AddrKey,
        socket: Held<AddrKey>,
    ) -> Self {
        let hello_by =
            tokio::time::Instant::now() + Duration::from_secs(app.settings.limits.hello_timeout_secs);
        Self { app, sid, client, addr, _socket: socket, hello_by, ready: None }
    }

    /// Counts one more chat action (a message, starting or closing a chat, an invite outcome)
    /// against the visitor's and the address's budgets.
    fn spend_chat_budget(&self, visitor: VisitorId) -> Result<(), ChatError> {
        let limits = &self.app.limits;
        limits
            .messages_by_visitor
            .check(&visitor)
            .and_then(|()| limits.messages_by_address.check(&self.addr))
            .map_err(|wait| too_fast("messages", wait))
    }

    fn now(&self) -> Timestamp {
        self.app.clock.now()
    }

    async fn hello(
        &mut self,
        hello: Hello<'_>,
        rid: Option<&str>,
        out: &mut Replies,
    ) -> Result<(), StoreError> {
        let Hello { widget_id, token, last_seq, page, reconnect } = hello;
        let visible_ms = page.as_ref().and_then(|p| p.visible_ms).filter(|_| reconnect);
        let widget = match WidgetKey::parse(widget_id) {
            Some(key) => self.app.store.widget_by_key(&key).await?,
            None => None,
        };
        let Some(widget) = widget else {
            out.error("unknown_widget", "no widget has this id; check data-app-id", rid);
            return Ok(());
        };
        let widget = self.app.widgets.share(widget);
        if !widget.allows_origin(self.client.origin.as_deref()) {
            out.error("origin_not_allowed", "this site is not allowed to use this widget", rid);
            out.close = Some((1008, "origin not allowed"));
            return Ok(());
        }
        let now = self.now();
        let hash = token.as_deref().map(token_hash);
        let known = match &hash {
            Some(h) => self.app.store.visitor_by_token(h).await?,
            None => None,
        };
        let new_visitors = &self.app.new_visitors;
        let mut joined = None;
        let known = match (known, &hash) {
            (None, Some(h)) => {
                joined = new_visitors.join(h);
                if joined.is_none() {
                    // Stored (and so forgotten here) between the two lookups: the store has it now.
                    self.app.store.visitor_by_token(h).await?
                } else {
                    None
                }
            }
            (known, _) => known,
        };
        let (who, token) = match (known, joined, token) {
            (Some(v), _, Some(t)) if v.widget_id == widget.id => (Who::Stored(v), t),
            (Some(_), _, Some(_)) => {
                out.error(
                    "token_widget_mismatch",
                    "this visitor token belongs to another widget; send hello without it",
                    rid,
                );
                return Ok(());
            }
            // Another tab, or the next page, of a visitor not stored yet: coming back is doing
            // something, so it is stored now.
            (None, Some(record), Some(t)) if record.widget_id == widget.id => (Who::Joined(record), t),
            (None, Some(record), _) => {
                new_visitors.leave(record.id, now);
                out.error(
                    "token_widget_mismatch",
                    "this visitor token belongs to another widget; send hello without it",
                    rid,
                );
                return Ok(());
            }
            // No token, or one this server does not know (e.g. a reset database): a new visitor,
            // stored once it does something (new_visitors.rs).
            _ => {
                if let Err(wait) = self.app.limits.new_visitors_by_address.check(&self.addr) {
                    let secs = retry_after_secs(wait);
                    tracing::debug!("new visitors from one address over the limit");
                    out.error(
                        "too_many_visitors",
                        &format!("too many new visitors from your network; try again in {secs} s"),
                        rid,
                    );
                    out.close = Some((1013, "try again later"));
                    return Ok(());
                }
                let t = new_token();
                let first_page = page.as_ref().filter(|p| check_page(p).is_ok()).map(|p| FirstPage {
                    url: p.url.clone(),
                    title: p.title.clone(),
                    referrer: p.referrer.clone(),
                });
                let record = NewVisitor {
                    id: new_visitor_id(),
                    widget_id: widget.id,
                    token_hash: token_hash(&t),
                    arrived_at: now,
                    meta: self.client.meta.clone(),
                    first_page,
                };
                new_visitors.add(record.clone());
                (Who::New(record), t)
            }
        };
        let visitor_id = who.id();
        let registered = !matches!(who, Who::Stored(_));
        let max_tabs = self.app.settings.limits.sockets_per_visitor;
        let Some(tab) = self.app.limits.sockets_by_visitor.try_hold(visitor_id, max_tabs) else {
            if registered {
                new_visitors.leave(visitor_id, now);
            }
            out.error("too_many_tabs", &format!("a visitor may have at most {max_tabs} tabs connected"), rid);
            out.close = Some((1008, "too many tabs"));
            return Ok(());
        };
        // A stored visitor's visit is touched and the page recorded now; a new one's wait in
        // memory until it is stored.
        let (visitor, visit, stored) = match who {
            Who::Stored(v) => {
                let visit = self.touch_visit(v.id).await?;
                (v, visit, true)
            }
            Who::Joined(record) => {
                let stored = new_visitors.ensure_stored(self.app.store.as_ref(), record.id, now).await;
                if let Err(e) = stored {
                    new_visitors.leave(record.id, now);
                    return Err(e);
                }
                let visit = self.touch_visit(record.id).await?;
                let visitor = Visitor {
                    id: record.id,
                    widget_id: record.widget_id,
                    created_at: record.arrived_at,
                    last_seen_at: now,
                };
                (visitor, visit, true)
            }
            Who::New(record) => {
                let visitor = Visitor {
                    id: record.id,
                    widget_id: record.widget_id,
                    created_at: record.arrived_at,
                    last_seen_at: now,
                };
                let visit = Visit {
                    id: VisitId(0),
                    visitor_id: record.id,
                    number: 1,
                    started_at: record.arrived_at,
                    last_activity_at: now,
                    meta: record.meta,
                };
                (visitor, visit, false)
            }
        };
        let mut live_page: Option<PageView> = None;
        if let Some(page) = page {
            if let Err(msg) = check_page(&page) {
                out.error("invalid_field", &msg, rid);
            } else {
                live_page = Some(PageView {
                    url: page.url.clone(),
                    title: page.title.clone(),
                    referrer: page.referrer.clone(),
                    at: now,
                });
                // A reconnect on the same page is not another view of it.
                if !reconnect && stored {
                    self.record_page_view(visit.id, visitor.id, page).await?;
                }
            }
        }
        self.app.hub.subscribe(self.sid, Topic::Visitor(visitor.id)).await;
        let open = match stored {
            true => self.app.store.open_conversation_of_visitor(visitor.id).await?,
            false => None,
        };
        if let Some(c) = &open {
            self.app.hub.subscribe(self.sid, Topic::Conversation(c.id)).await;
        }
        let queue_status = self.queue_status(&widget).await?;
        let view = match &open {
            Some(c) => Some(ConversationView::new(c, self.agent_name(c.agent_id).await, false)),
            None => None,
        };
        out.send(
            &Out::VisitorWelcome {
                visitor_token: &token,
                visitor_id: visitor.id,
                visit_id: stored.then_some(visit.id),
                visit_number: visit.number,
                conversation: view,
                widget: &widget.settings,
                queue: queue_status,
                auth: widget.auth.as_ref().map(|a| if a.required { "required" } else { "optional" }),
                mail: self.app.settings.mail.enabled(),
            },
            rid,
        );
        tracing::debug!(visitor = %visitor.id, widget = %widget.id, visit = visit.number, "visitor hello");
        let conversation = open.as_ref().map(|c| c.id);
        let mut delivered = 0;
        if let Some(c) = &open {
            // From what the client holds — unless it holds seqs of another conversation.
            let from = last_seq.unwrap_or(0).clamp(0, c.last_seq);
            delivered = self.replay(c.id, from, out).await?;
        }
        let live_page_url = live_page.as_ref().map(|p| p.url.clone());
        let live_page_for_triggers = live_page.clone();
        self.app
            .live
            .connected(LiveVisitor {
                visitor_id: visitor.id,
                org_id: widget.org_id,
                widget_id: widget.id,
                page: live_page,
                page_since: now,
                visit_number: visit.number,
                visit_started_at: visit.started_at,
                country: visit.meta.country.clone(),
                device: visit.meta.device.clone(),
                browser: visit.meta.browser.clone(),
                authenticated_as: None,
                name: open.as_ref().and_then(|c| c.context.visitor_name()),
                conversation_id: conversation,
                last_invite: None,
                tabs: 0,
            })
            .await;
        let arrival = Arrival {
            widget: &widget,
            visitor: visitor.id,
            visit: &visit,
            page: live_page_for_triggers.as_ref(),
            new_page_view: !reconnect,
            visible_ms,
            chatting: conversation.is_some(),
        };
        self.app.triggers.connected(arrival).await?;
        self.ready = Some(Ready {
            _tab: tab,
            stored,
            registered,
            widget,
            visitor,
            visit,
            conversation,
            delivered,
            identity: None,
            issued_invites: VecDeque::new(),
            page_url: live_page_url,
        });
        Ok(())
    }

    /// Stores the visitor if it is new and not stored yet (by this tab, another, or an invite).
    async fn store_visitor(&mut self) -> Result<(), StoreError> {
        let Some(ready) = self.ready.as_mut() else { return Ok(()) };
        if ready.stored {
            return Ok(());
        }
        let (now, visitor) = (self.app.clock.now(), ready.visitor.id);
        let stored_now = self.app.new_visitors.is_pending(visitor);
        let visit = match self.app.new_visitors.ensure_stored(self.app.store.as_ref(), visitor, now).await? {
            Some(visit) => visit,
            // Stored a moment ago (by another tab, an invite or the schedule) and so no longer
            // held in memory: the store has its visit.
            None => self.touch_visit(visitor).await?,
        };
        let Some(ready) = self.ready.as_mut() else { return Ok(()) };
        ready.visit = visit;
        ready.stored = true;
        if stored_now {
            // What the rules held back while the visitor was not stored can be recorded now.
            self.app.triggers.evaluate(visitor).await;
        }
        Ok(())
    }

    /// The current visit (a new one after the configured inactivity), with this browser's facts.
    async fn touch_visit(&self, visitor: VisitorId) -> Result<Visit, StoreError> {
        let inactivity = i64::from(self.app.settings.visit_inactivity_minutes) * 60_000;
        let mut visit = self.app.store.touch_visit(visitor, inactivity, self.now()).await?;
        if visit.meta != self.client.meta {
            self.app.store.set_visit_meta(visit.id, &self.client.meta).await?;
            visit.meta = self.client.meta.clone();
        }
        Ok(visit)
    }

    /// Whether the widget's queue (or, while it is closed or unstaffed, its fallback) is open
    /// now, for the launcher and the offline message.
    async fn queue_status(&self, widget: &Widget) -> Result<QueueStatus, StoreError> {
        let hours = match widget.default_queue_id {
            Some(q) => self.app.chat.with_fallback(q).await?.and_then(|q| q.hours),
            None => None,
        };
        let status = hours.map(|h| h.status(self.now()));
        Ok(QueueStatus { open: status.is_none_or(|s| s.open), opens_at: status.and_then(|s| s.opens_at) })
    }

    async fn verify(&self, widget: &Widget, token: &str) -> Result<Identity, ChatError> {
        self.app.visitor_auth.verify(widget.auth.as_ref(), token, self.now()).await.map_err(auth_error)
    }

    async fn agent_name(&self, agent: Option<AgentId>) -> Option<String> {
        match agent {
            Some(a) => self.app.store.agent(a).await.ok().flatten().map(|a| a.name),
            None => None,
        }
    }

    async fn record_page_view(
        &self,
        visit: VisitId,
        visitor: VisitorId,
        page: Page,
    ) -> Result<(), StoreError> {
        let pv = NewPageView {
            visit_id: visit,
            visitor_id: visitor,
            url: page.url,
            title: page.title,
            referrer: page.referrer,
        };
        self.app.store.record_page_view(pv, self.now()).await
    }

    /// Sends every message after `after_seq`, oldest first.
    /// Sends every message after `after_seq`, oldest first, skipping agent-only notes; returns
    /// the highest seq it went past (`after_seq` when there was nothing).
    async fn replay(
        &self,
        c: ConversationId,
        mut after_seq: i64,
        out: &mut Replies,
    ) -> Result<i64, StoreError> {
        loop {
            let page = self.app.store.messages_after(c, after_seq, REPLAY_PAGE).await?;
            for m in page.iter().filter(|m| !m.is_internal()) {
                out.send(&Out::Message { message: m }, None);
            }
            match page.last() {
                Some(last) if page.len() == REPLAY_PAGE as usize => after_seq = last.seq,
                Some(last) => return Ok(last.seq),
                None => return Ok(after_seq),
            }
        }
    }

    /// Brings the client up to date from the store after events may have been lost: the open
    /// conversation's state (a new one, a change, or its end) and the messages after those
    /// delivered.
    async fn catch_up(&mut self, out: &mut Replies) -> Result<(), StoreError> {
        let Some(ready) = self.ready.as_ref() else { return Ok(()) };
        let (visitor, followed) = (ready.visitor.id, ready.conversation);
        let open = self.app.store.open_conversation_of_visitor(visitor).await?;
        let current = match (&open, followed) {
            (Some(c), _) => Some(c.clone()),
            // The followed conversation ended meanwhile: say so.
            (None, Some(id)) => self.app.store.conversation(id).await?,
            (None, None) => None,
        };
        let Some(c) = current else { return Ok(()) };
        if c.state.is_open() && followed != Some(c.id) {
            self.app.hub.subscribe(self.sid, Topic::Conversation(c.id)).await;
        }
        let view = ConversationView::new(&c, self.agent_name(c.agent_id).await, false);
        out.send(&Out::Chat { conversation: view, existing: true }, None);
        let ready = self.ready.as_mut().expect("ready");
        if !c.state.is_open() {
            self.app.hub.unsubscribe(self.sid, Topic::Conversation(c.id));
            ready.conversation = None;
            return Ok(());
        }
        if ready.conversation != Some(c.id) {
            ready.conversation = Some(c.id);
            ready.delivered = 0;
        }
        let after = ready.delivered;
        let delivered = self.replay(c.id, after, out).await?;
        self.ready.as_mut().expect("ready").delivered = delivered;
        Ok(())
    }

    /// The visitor's open conversation: the one this session follows, or (if another tab
    /// started one a moment ago and its event has not arrived yet) the one in the store.
    async fn open_conversation(&mut self) -> Result<Option<ConversationId>, StoreError> {
        let ready = self.ready.as_mut().expect("after hello");
        if ready.conversation.is_none()
            && let Some(c) = self.app.store.open_conversation_of_visitor(ready.visitor.id).await?
        {
            self.app.hub.subscribe(self.sid, Topic::Conversation(c.id)).await;
            ready.conversation = Some(c.id);
            // New to this tab: its first message event catches up from the start.
            ready.delivered = 0;
        }
        Ok(ready.conversation)
    }

    async fn handle(
        &mut self,
        frame: VisitorIn,
        rid: Option<&str>,
        out: &mut Replies,
    ) -> Result<(), ChatError> {
        // Any frame but a ping is doing something: a new visitor is stored first.
        if !matches!(frame, VisitorIn::Ping) {
            self.store_visitor().await?;
        }
        let ready = self.ready.as_ref().expect("after hello");
        let visitor = ready.visitor.id;
        match frame {
            VisitorIn::Hello { .. } => {
                out.error("already_hello", "hello was already sent on this connection", rid)
            }
            VisitorIn::Ping => out.send(&Out::Pong, rid),
            VisitorIn::GetAvailability => {
                let widget = ready.widget.clone();
                let waiting = self.open_conversation().await?;
                let availability = self.app.chat.availability(&widget, waiting).await?;
                out.send(&Out::Availability(&availability), rid);
            }
            VisitorIn::PageView(page) => {
                let limits = &self.app.limits;
                let budget = limits
                    .page_views_by_visitor
                    .check(&visitor)
                    .and_then(|()| limits.page_views_by_address.check(&self.addr));
                if let Err(wait) = budget {
                    return Err(too_fast("page views", wait));
                }
                if let Err(msg) = check_page(&page) {
                    out.error("invalid_field", &msg, rid);
                } else {
                    let visit = self.touch_visit(visitor).await?;
                    let now = self.now();
                    let seen = PageView {
                        url: page.url.clone(),
                        title: page.title.clone(),
                        referrer: page.referrer.clone(),
                        at: now,
                    };
                    self.record_page_view(visit.id, visitor, page).await?;
                    self.app.triggers.page_view(visitor, &seen, &visit).await?;
                    let (number, started) = (visit.number, visit.started_at);
                    let ready = self.ready.as_mut().expect("after hello");
                    ready.visit = visit;
                    ready.page_url = Some(seen.url.clone());
                    self.app
                        .live
                        .update(visitor, |v| {
                            v.page = Some(seen);
                            v.page_since = now;
                            v.visit_number = number;
                            v.visit_started_at = started;
                        })
                        .await;
                }
            }
            VisitorIn::Authenticate { token } => {
                let widget = ready.widget.clone();
                let identity = self.verify(&widget, &token).await?;
                self.app.chat.authenticate(visitor, &identity).await?;
                let sub = identity.sub.clone();
                self.app.live.update(visitor, |v| v.authenticated_as = Some(sub)).await;
                self.app.triggers.authenticated(visitor, widget.id, &identity).await;
                out.send(&Out::Authenticated { sub: &identity.sub, expires_at: identity.expires_at }, rid);
                self.ready.as_mut().expect("after hello").identity = Some(identity);
            }
            VisitorIn::StartChat { context, proactive, invite_id, prechat, auth_token, language } => {
                let context = match build_context(context, prechat) {
                    Ok(c) => c,
                    Err(msg) => return Err(ChatError::Invalid("invalid_context", msg)),
                };
                if invite_id.as_deref().is_some_and(|i| ClientMsgId::parse(i).is_err()) {
                    return Err(ChatError::Invalid(
                        "invalid_field",
                        "invite_id must be 1–64 visible ASCII characters".into(),
                    ));
                }
                self.spend_chat_budget(visitor)?;
                let widget = ready.widget.clone();
                if let Some(token) = auth_token {
                    let identity = self.verify(&widget, &token).await?;
                    self.app.store.set_visitor_auth_sub(visitor, &identity.issuer, &identity.sub).await?;
                    // The live visitors list shows who it is, as after `authenticate`.
                    let sub = identity.sub.clone();
                    self.app.live.update(visitor, |v| v.authenticated_as = Some(sub)).await;
                    self.ready.as_mut().expect("after hello").identity = Some(identity);
                }
                let ready = self.ready.as_ref().expect("after hello");
                let identity = ready.identity.clone();
                let (invited_to, invited_by) = match invite_id.as_deref() {
                    Some(i) => self.app.triggers.invite_origin(visitor, i).await,
                    None => (None, None),
                };
                let ready = self.ready.as_ref().expect("after hello");
                let seen = Seen {
                    page_url: ready.page_url.clone(),
                    country: ready.visit.meta.country.clone(),
                    invited_to,
                    invited_by,
                };
                // A failed or missing authentication never silently becomes an anonymous chat.
                if let Some(id) = &identity
                    && id.expires_at <= self.now()
                {
                    return Err(auth_error(AuthError::Expired));
                }
                if identity.is_none() && widget.auth.as_ref().is_some_and(|a| a.required) {
                    return Err(ChatError::Invalid(
                        "auth_required",
                        "this widget only chats with signed-in visitors; send a token from the auth token provider"
                            .into(),
                    ));
                }
                let (c, existing) = self
                    .app
                    .chat
                    .start(
                        &widget,
                        visitor,
                        context,
                        proactive,
                        invite_id,
                        identity.as_ref(),
                        &seen,
                        spoken(&language),
                    )
                    .await?;
                self.app.hub.subscribe(self.sid, Topic::Conversation(c.id)).await;
                self.ready.as_mut().expect("after hello").conversation = Some(c.id);
                let view = ConversationView::new(&c, self.agent_name(c.agent_id).await, false);
                out.send(&Out::Chat { conversation: view, existing }, rid);
                // What was written while the chat started (the place in line) came before this
                // session listened: send it now. A copy that also arrives live is dropped by seq.
                let delivered = self.replay(c.id, c.last_seq, out).await?;
                self.ready.as_mut().expect("after hello").delivered = delivered;
            }
            VisitorIn::Rate { conversation_id, score, comment } => {
                self.spend_chat_budget(visitor)?;
                let comment = comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
                self.app.chat.rate(conversation_id, visitor, score, comment.as_deref()).await?;
                out.send(&Out::Ok, rid);
            }
            VisitorIn::EmailTranscript { conversation_id, email, tz } => {
                self.spend_chat_budget(visitor)?;
                if !self.app.settings.mail.enabled() {
                    return Err(ChatError::Invalid(
                        "mail_not_configured",
                        "this server sends no email".into(),
                    ));
                }
                let email = reply_address(&email).map_err(|m| ChatError::Invalid("invalid_email", m))?;
                let tz = tz
                    .as_deref()
                    .and_then(|name| beckon_domain::time_zone::TimeZoneName::parse(name).ok())
                    .map_or(jiff::tz::TimeZone::UTC, |z| z.time_zone().clone());
                let widget = self.ready.as_ref().expect("after hello").widget.clone();
                let title = widget.settings.title.clone();
                self.app.chat.email_transcript(conversation_id, visitor, &email, &tz, &title).await?;
                out.send(&Out::Ok, rid);
            }
            VisitorIn::LeaveMessage { name, email, text, client_msg_id, context, prechat, language } => {
                let email = reply_address(&email).map_err(|m| ChatError::Invalid("invalid_email", m))?;
                let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
                if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
                    return Err(ChatError::Invalid(
                        "invalid_field",
                        "the name is longer than 100 characters".into(),
                    ));
                }
                let text = match text.trim() {
                    "" => None,
                    _ => Some(
                        MessageText::parse(&text)
                            .map_err(|e| ChatError::Invalid("invalid_message", e.to_string()))?,
                    ),
                };
                let client_msg_id = ClientMsgId::parse(&client_msg_id)
                    .map_err(|e| ChatError::Invalid("invalid_message", e.to_string()))?;
                let mut prechat = prechat.unwrap_or_default();
                if let Some(name) = name {
                    prechat.insert("Name".into(), Value::String(name));
                }
                let context = build_context(context, Some(prechat))
                    .map_err(|m| ChatError::Invalid("invalid_context", m))?;
                self.spend_chat_budget(visitor)?;
                let ready = self.ready.as_ref().expect("after hello");
                let widget = ready.widget.clone();
                let identity = ready.identity.clone();
                let seen = Seen {
                    page_url: ready.page_url.clone(),
                    country: ready.visit.meta.country.clone(),
                    invited_to: None,
                    invited_by: None,
                };
                let c = self
                    .app
                    .chat
                    .leave_message(
                        &widget,
                        visitor,
                        context,
                        identity.as_ref(),
                        &seen,
                        &email,
                        text,
                        client_msg_id,
                        spoken(&language),
                    )
                    .await?;
                self.app.hub.subscribe(self.sid, Topic::Conversation(c.id)).await;
                self.ready.as_mut().expect("after hello").conversation = Some(c.id);
                let view = ConversationView::new(&c, None, false);
                out.send(&Out::Chat { conversation: view, existing: false }, rid);
                let delivered = self.replay(c.id, 0, out).await?;
                self.ready.as_mut().expect("after hello").delivered = delivered;
            }
            VisitorIn::Send { client_msg_id, text, conversation_id } => {
                let (text, client_msg_id) =
                    match (MessageText::parse(&text), ClientMsgId::parse(&client_msg_id)) {
                        (Ok(t), Ok(c)) => (t, c),
                        (Err(e), _) | (_, Err(e)) => {
                            return Err(ChatError::Invalid("invalid_message", e.to_string()));
                        }
                    };
                self.spend_chat_budget(visitor)?;
                let open = self.open_conversation().await?.ok_or(ChatError::NoOpenConversation)?;
                if conversation_id.is_some_and(|c| c != open) {
                    return Err(ChatError::NotYours);
                }
                let a = self.app.chat.send(open, Sender::visitor(), text, client_msg_id).await?;
                out.send(
                    &Out::Ack {
                        client_msg_id: a.message.client_msg_id.as_deref().unwrap_or_default(),
                        conversation_id: open,
                        seq: a.message.seq,
                        duplicate: a.duplicate,
                    },
                    rid,
                );
            }
            VisitorIn::Typing { typing } => {
                // Typing is a hint: beyond its budget it is dropped without an error.
                if self.app.limits.typing_by_visitor.check(&visitor).is_err() {
                    return Ok(());
                }
                let open = self.open_conversation().await?.ok_or(ChatError::NoOpenConversation)?;
                self.app.chat.typing(open, SenderKind::Visitor, typing).await;
            }
            VisitorIn::CloseChat => {
                self.spend_chat_budget(visitor)?;
                let open = self.open_conversation().await?.ok_or(ChatError::NoOpenConversation)?;
                self.app.chat.close_by_visitor(open, visitor).await?;
                self.ready.as_mut().expect("after hello").conversation = None;
                out.send(&Out::Ok, rid);
            }
            VisitorIn::Sync { after_seq } => {
                let open = self.open_conversation().await?.ok_or(ChatError::NoOpenConversation)?;
                let replayed = self.replay(open, after_seq, out).await?;
                let ready = self.ready.as_mut().expect("after hello");
                ready.delivered = ready.delivered.max(replayed);
                out.send(&Out::Ok, rid);
            }
            VisitorIn::Invite { invite_id, source, outcome, reason, message } => {
                // The server knows where its own invites came from; anything else is the SDK's.
                let issued = ready.issued_invites.iter().find(|(id, _)| *id == invite_id);
                let source = match issued {
                    Some((_, issued)) => issued.clone(),
                    None => source,
                };
                let outcome = beckon_domain::invite::InviteOutcome::reported_by_widget(&outcome);
                if ClientMsgId::parse(&invite_id).is_err()
                    || !(source == "sdk" || issued.is_some())
                    || outcome.is_none()
                    || message.chars().count() > MAX_INVITE_MESSAGE
                    || reason.as_ref().is_some_and(|r| r.len() > 64)
                {
                    return Err(ChatError::Invalid(
                        "invalid_field",
                        "invite needs invite_id (1–64 visible ASCII), source \"sdk\", a known outcome, a message ≤ 4,000 characters".into(),
                    ));
                }
                let Some(outcome) = outcome else { return Ok(()) };
                self.spend_chat_budget(visitor)?;
                let status = InviteStatus {
                    invite_id: invite_id.clone(),
                    source: source.clone(),
                    outcome,
                    at: self.now(),
                };
                let ev = NewInviteEvent {
                    widget_id: ready.widget.id,
                    queue_id: None,
                    visitor_id: visitor,
                    invite_id,
                    source,
                    outcome,
                    reason,
                    message,
                };
                let (id, source, outcome) = (ev.invite_id.clone(), ev.source.clone(), ev.outcome);
                self.app.store.record_invite_event(ev, self.now()).await?;
                self.app.live.set_invite(visitor, status).await;
                self.app.triggers.invite_outcome(visitor, &id, &source, outcome).await;
                out.send(&Out::Ok, rid);
            }
            VisitorIn::Activity { visible } => {
                self.app.triggers.signal(visitor, Signal::Visible(visible)).await?
            }
            VisitorIn::Scroll { percent } => {
                if percent > 100 {
                    return Err(ChatError::Invalid("invalid_field", "percent must be 0–100".into()));
                }
                self.app.triggers.signal(visitor, Signal::Scroll(percent)).await?
            }
            VisitorIn::ExitIntent => self.app.triggers.signal(visitor, Signal::ExitIntent).await?,
            VisitorIn::Track { name, .. } => {
                if name.is_empty() || name.chars().count() > MAX_EVENT_NAME {
                    return Err(ChatError::Invalid(
                        "invalid_field",
                        format!("an event name must be 1–{MAX_EVENT_NAME} characters"),
                    ));
                }
                self.app.triggers.signal(visitor, Signal::Track(name)).await?
            }
            VisitorIn::SetContext { context } => {
                let context = Context::parse(&context)
                    .map_err(|e| ChatError::Invalid("invalid_context", e.to_string()))?;
                self.app.triggers.signal(visitor, Signal::Context(context)).await?
            }
        }
        Ok(())
    }
}

/// A `rate_limited` error saying how long to wait.
fn too_fast(what: &str, wait: Duration) -> ChatError {
    let secs = retry_after_secs(wait);
    ChatError::Invalid("rate_limited", format!("too many {what}; try again in {secs} s"))
}

fn auth_error(e: AuthError) -> ChatError {
    ChatError::Invalid(e.code(), e.to_string())
}

fn check_page(p: &Page) -> Result<(), String> {
    if p.url.len() > MAX_URL || p.referrer.len() > MAX_URL {
        return Err(format!("url and referrer must be at most {MAX_URL} bytes"));
    }
    if p.title.chars().count() > MAX_TITLE {
        return Err(format!("title must be at most {MAX_TITLE} characters"));
    }
    Ok(())
}

/// The language a widget said it speaks, if Beckon speaks it too; English otherwise.
fn spoken(language: &Option<String>) -> &'static str {
    let asked = language.as_deref().unwrap_or("");
    beckon_domain::model::LANGUAGES.iter().find(|l| **l == asked).copied().unwrap_or("en")
}

/// The address a visitor gave for answers by email, trimmed; or why it cannot be one (the shape
/// only: whether it exists is the SMTP server's to say).
fn reply_address(email: &str) -> Result<String, String> {
    beckon_domain::EmailAddress::parse(email).map(|e| e.into_string()).map_err(|e| match e {
        beckon_domain::EmailError::Missing => "the email address is required: answers are sent there".into(),
        e => e.to_string(),
    })
}

/// The page's context plus the pre-chat answers (displayable, and winning over page variables
/// of the same name), validated as one context.
fn build_context(context: Value, prechat: Option<serde_json::Map<String, Value>>) -> Result<Context, String> {
    let mut all = match context {
        Value::Null => serde_json::Map::new(),
        Value::Object(m) => m,
        _ => return Err(ContextError::NotAnObject.to_string()),
    };
    for (question, answer) in prechat.unwrap_or_default() {
        if !matches!(answer, Value::String(_) | Value::Bool(_)) {
            return Err(format!("the pre-chat answer to {question:?} must be text or true/false"));
        }
        all.insert(question, serde_json::json!({"value": answer, "isDisplayable": true}));
    }
    Context::parse(&Value::Object(all)).map_err(|e| e.to_string())
}

impl Handler for VisitorSession {
    fn deadline(&self) -> Option<tokio::time::Instant> {
        self.ready.is_none().then_some(self.hello_by)
    }

    async fn on_deadline(&mut self, out: &mut Replies) {
        out.error("hello_required", "no hello in time; connect again", None);
        out.close = Some((1008, "no hello"));
    }

    async fn on_text(&mut self, text: &str, out: &mut Replies) {
        let (rid, frame) = match parse::<VisitorIn>(text) {
            Ok(ok) => ok,
            Err((rid, msg)) => return out.error("bad_frame", &msg, rid.as_deref()),
        };
        let rid = rid.as_deref();
        let result = match (frame, self.ready.is_some()) {
            (VisitorIn::Hello { widget_id, visitor_token, last_seq, page, reconnect }, false) => {
                let hello = Hello { widget_id: &widget_id, token: visitor_token, last_seq, page, reconnect };
                self.hello(hello, rid, out).await.map_err(ChatError::from)
            }
            (VisitorIn::Ping, _) => {
                out.send(&Out::Pong, rid);
                Ok(())
            }
            (_, false) => Err(ChatError::Invalid("hello_required", "send hello first".into())),
            (frame, true) => self.handle(frame, rid, out).await,
        };
        if let Err(e) = result {
            if let ChatError::Store(e) = &e {
                tracing::error!(error = %e, "visitor request failed");
            }
            out.error(e.code(), &e.client_message(), rid);
        }
    }

    async fn on_event(&mut self, envelope: &Envelope, out: &mut Replies) {
        let Some(ready) = self.ready.as_mut() else {
            return;
        };
        match &envelope.event {
            // Messages reach the client in seq order with no gap, however the bus delivers them
            // (a batch stored together, events from several nodes, a lost event): a repeat is
            // dropped, and a message after a gap is sent only once the gap is filled from the
            // store. Agent-only notes are skipped, but their seq counts as delivered.
            Event::Message { message } if ready.conversation == Some(message.conversation_id) => {
                let (c, next) = (message.conversation_id, ready.delivered + 1);
                if message.seq == next {
                    if !message.is_internal() {
                        out.send(&Out::Message { message }, None);
                    }
                    ready.delivered = message.seq;
                } else if message.seq > next {
                    let after = ready.delivered;
                    match self.replay(c, after, out).await {
                        Ok(delivered) => self.ready.as_mut().expect("ready").delivered = delivered,
                        // The client catches up when it next syncs or reconnects.
                        Err(e) => tracing::warn!(error = %e, "filling a gap in the messages failed"),
                    }
                }
            }
            Event::Typing { conversation_id, from: SenderKind::Agent, typing }
                if ready.conversation == Some(*conversation_id) =>
            {
                out.send(
                    &Out::Typing {
                        conversation_id: *conversation_id,
                        from: SenderKind::Agent,
                        typing: *typing,
                    },
                    None,
                );
            }
            // A conversation's change can arrive before the messages written just before it
            // (another topic, another node): starting or stopping to follow it reads them from
            // the store, so none is skipped.
            Event::Conversation { conversation: c, agent_name } if c.visitor_id == ready.visitor.id => {
                let visitor = ready.visitor.id;
                let view = ConversationView::new(c, agent_name.clone(), false);
                let mut catch_up_from = None;
                if c.state.is_open() {
                    if ready.conversation != Some(c.id) {
                        ready.conversation = Some(c.id);
                        ready.delivered = 0;
                        catch_up_from = Some(0);
                    }
                    out.send(&Out::Chat { conversation: view, existing: true }, None);
                } else if ready.conversation == Some(c.id) {
                    ready.conversation = None;
                    let after = ready.delivered;
                    if let Err(e) = self.replay(c.id, after, out).await {
                        tracing::warn!(error = %e, "reading a conversation's last messages failed");
                    }
                    self.app.hub.unsubscribe(self.sid, Topic::Conversation(c.id));
                    out.send(&Out::Chat { conversation: view, existing: true }, None);
                } else {
                    out.send(&Out::Chat { conversation: view, existing: true }, None);
                }
                if let Some(after) = catch_up_from {
                    self.app.hub.subscribe(self.sid, Topic::Conversation(c.id)).await;
                    match self.replay(c.id, after, out).await {
                        Ok(d) => self.ready.as_mut().expect("ready").delivered = d,
                        Err(e) => tracing::warn!(error = %e, "reading a new conversation's messages failed"),
                    }
                }
                let now_open = self.ready.as_ref().and_then(|r| r.conversation);
                let name = now_open.and_then(|_| c.context.visitor_name());
                self.app.live.set_conversation(visitor, now_open, name).await;
                self.app.triggers.chatting(visitor, now_open.is_some()).await;
            }
            // Events may have been lost between nodes: the conversation and its messages are
            // read again from the store (the socket stays).
            Event::Missed => {
                if let Err(e) = self.catch_up(out).await {
                    tracing::warn!(error = %e, "catching up after missed events failed");
                    out.close = Some((1012, "reconnect to catch up"));
                }
            }
            Event::Invite { visitor_id, invite } if *visitor_id == ready.visitor.id => {
                if ready.issued_invites.len() >= ISSUED_INVITES_KEPT {
                    ready.issued_invites.pop_front();
                }
                ready.issued_invites.push_back((invite.invite_id.clone(), invite.source.clone()));
                out.send(&Out::Invite(invite), None);
                // An agent's invite shows in the live list (whichever node the agent is on).
                if invite.source.starts_with("agent:") {
                    let status = InviteStatus {
                        invite_id: invite.invite_id.clone(),
                        source: invite.source.clone(),
                        outcome: beckon_domain::invite::InviteOutcome::Offered,
                        at: self.app.clock.now(),
                    };
                    self.app.live.set_invite(ready.visitor.id, status).await;
                }
            }
            _ => {}
        }
    }

    async fn on_end(&mut self) {
        if let Some(ready) = &self.ready {
            if ready.registered {
                self.app.new_visitors.leave(ready.visitor.id, self.app.clock.now());
            }
            self.app.live.disconnected(ready.visitor.id).await;
            self.app.triggers.disconnected(ready.visitor.id);
        }
    }
}
