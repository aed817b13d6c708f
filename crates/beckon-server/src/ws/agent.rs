//! The agent gateway: one socket per open console tab of a signed-in agent.
//!
//! On connect the agent gets a `welcome` with its presence and every open conversation assigned
//! or offered to it, so a reloaded console (or one on a new machine) restores everything. The
//! session then relays presence, accept/decline, messages, typing and ending to
//! [`Chat`](crate::chat::Chat), and follows the conversations that become the agent's.

use crate::chat::{ChatError, TransferTarget};
use crate::hub::SessionId;
use crate::state::AppState;
use crate::ws::frames::{AgentIn, AgentInfo, ConversationView, Out, parse};
use crate::ws::session::{Handler, Replies};
use beckon_domain::events::{Envelope, Event, Invite, Topic};
use beckon_domain::message::Sender;
use beckon_domain::model::{Agent, Conversation, Role};
use beckon_domain::*;
use std::collections::{HashMap, HashSet};

const REPLAY_PAGE: u32 = 500;
/// The most chats one console's waiting list holds (per queue in the welcome, and in all):
/// a bound on what a flood of waiting chats makes each console keep and draw.
const WAITING_LIST_MAX: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Offered,
    Assigned,
}

pub struct AgentSession {
    app: AppState,
    sid: SessionId,
    agent: Agent,
    /// The hash of the sign-in session this console runs under: when it ends (sign-out,
    /// expiry, a password change, the agent disabled), the console is closed.
    session_hash: String,
    conversations: HashMap<ConversationId, Relation>,
    /// For each conversation assigned to the agent, the highest seq this console has been given:
    /// messages reach it in seq order with no gap (see `on_event`).
    delivered: HashMap<ConversationId, i64>,
    /// The queues whose waiting chats this console lists (`None`: every queue, an admin), as
    /// the store said at the start and after each change to the account.
    serves: Option<HashSet<QueueId>>,
    /// The chats on this console's waiting list, at most [`WAITING_LIST_MAX`].
    waiting: HashSet<ConversationId>,
}

/// Close codes the console acts on (docs/protocol.md).
pub const CLOSE_SESSION_ENDED: u16 = 4001;
pub const CLOSE_ACCOUNT_CHANGED: u16 = 4002;

impl AgentSession {
    pub fn new(app: AppState, sid: SessionId, agent: Agent, session_hash: String) -> Self {
        Self {
            app,
            sid,
            agent,
            session_hash,
            conversations: HashMap::new(),
            delivered: HashMap::new(),
            serves: Some(HashSet::new()),
            waiting: HashSet::new(),
        }
    }

    /// Reads which queues' waiting chats this agent sees (its queues; every queue for an admin).
    async fn load_serves(&mut self) -> Result<(), beckon_store::StoreError> {
        self.serves = if self.agent.role == Role::Admin {
            None
        } else {
            Some(self.app.store.agent_queues(self.agent.id).await?.into_iter().collect())
        };
        Ok(())
    }

    /// The waiting chats of the queues this agent serves, oldest first (at most the list's bound).
    async fn waiting_list(&mut self) -> Result<Vec<Conversation>, beckon_store::StoreError> {
        let queues: Vec<QueueId> = match &self.serves {
            Some(qs) => qs.iter().copied().collect(),
            None => {
                self.app.store.queues_of_org(self.agent.org_id).await?.into_iter().map(|q| q.id).collect()
            }
        };
        let mut all = Vec::new();
        for q in queues {
            all.extend(self.app.store.waiting_in_queue(q, WAITING_LIST_MAX as u32).await?);
        }
        all.sort_by_key(|c| (c.created_at, c.id));
        all.truncate(WAITING_LIST_MAX);
        self.waiting = all.iter().map(|c| c.id).collect();
        Ok(all)
    }

    /// Keeps the console's waiting list in step with a conversation's change, checking at
    /// delivery that the chat belongs to this organisation and a queue this agent serves.
    fn update_waiting(&mut self, c: &Conversation, view: &ConversationView, out: &mut Replies) {
        let sees = c.org_id == self.agent.org_id
            && match (&self.serves, c.queue_id) {
                (None, _) => true,
                (Some(qs), Some(q)) => qs.contains(&q),
                (Some(_), None) => false,
            };
        if sees && c.state.is_waiting() {
            if self.waiting.contains(&c.id) || self.waiting.len() < WAITING_LIST_MAX {
                self.waiting.insert(c.id);
                out.send(&Out::Waiting { conversation: view.clone() }, None);
            }
        } else if self.waiting.remove(&c.id) {
            out.send(&Out::WaitingGone { conversation_id: c.id }, None);
        }
    }

    /// This console's id in the cluster: the node's id and this socket's number on it.
    fn console_id(&self) -> String {
        format!("{}-{}", self.app.chat.node_id(), self.sid)
    }

    /// Checks that the sign-in still holds and the account is as it was: closes the console
    /// when the session is gone (4001), or when the role changed (4002: the console reconnects
    /// and its welcome carries the new role). Name and capacity changes apply in place.
    async fn recheck_session(&mut self, out: &mut Replies) {
        match self.app.store.agent_for_session(&self.session_hash, self.app.clock.now()).await {
            Ok(None) => {
                tracing::info!(agent = %self.agent.id, "session ended; closing the console");
                out.close = Some((CLOSE_SESSION_ENDED, "session ended"));
            }
            Ok(Some(now)) if now.role != self.agent.role => {
                out.close = Some((CLOSE_ACCOUNT_CHANGED, "account changed"));
            }
            Ok(Some(now)) => {
                self.agent = now;
                // Queue membership may have changed: the waiting list follows it.
                if let Err(e) = self.load_serves().await {
                    tracing::warn!(error = %e, "reading an agent's queues failed");
                }
                let before = std::mem::take(&mut self.waiting);
                match self.waiting_list().await {
                    Ok(list) => {
                        for id in before.iter().filter(|id| !self.waiting.contains(id)) {
                            out.send(&Out::WaitingGone { conversation_id: *id }, None);
                        }
                        for c in &list {
                            out.send(&Out::Waiting { conversation: self.view(c, None) }, None);
                        }
                    }
                    Err(e) => {
                        self.waiting = before;
                        tracing::warn!(error = %e, "reading the waiting chats failed");
                    }
                }
            }
            // The store is unreachable: keep going; the next check decides.
            Err(e) => tracing::warn!(error = %e, "checking an agent's session failed"),
        }
    }

    fn view(&self, c: &Conversation, agent_name: Option<String>) -> ConversationView {
        let name =
            agent_name.or_else(|| (c.agent_id == Some(self.agent.id)).then(|| self.agent.name.clone()));
        ConversationView::new(c, name, true)
    }

    /// Starts or stops following a conversation after a change; returns the frame to send, if
    /// the change concerns this agent.
    async fn follow(&mut self, c: &Conversation) -> Option<Relation> {
        let me = Some(self.agent.id);
        let now = if c.agent_id == me && c.state.is_open() {
            Some(Relation::Assigned)
        } else if c.offered_agent_id == me && c.state.is_waiting() {
            Some(Relation::Offered)
        } else {
            None
        };
        match now {
            Some(Relation::Assigned) => {
                self.app.hub.subscribe(self.sid, Topic::Conversation(c.id)).await;
                // What came before is the console's to fetch (`sync`); live from here on.
                self.delivered.entry(c.id).or_insert(c.last_seq);
            }
            _ => {
                self.app.hub.unsubscribe(self.sid, Topic::Conversation(c.id));
                self.delivered.remove(&c.id);
            }
        }
        match now {
            Some(rel) => self.conversations.insert(c.id, rel),
            None => self.conversations.remove(&c.id),
        };
        now
    }

    /// Whether live events of the conversation reach this console: only while it is this
    /// agent's own (assigned to them, as the store last said through an accept, the welcome or
    /// a conversation event). Offers show the offer card, not the conversation's messages.
    fn follows(&self, id: ConversationId) -> bool {
        self.conversations.get(&id) == Some(&Relation::Assigned)
    }

    /// Sends every message after `after_seq`, oldest first; returns the highest seq sent
    /// (`after_seq` when there was nothing).
    async fn replay(
        &self,
        c: ConversationId,
        mut after_seq: i64,
        out: &mut Replies,
    ) -> Result<i64, beckon_store::StoreError> {
        loop {
            let page = self.app.store.messages_after(c, after_seq, REPLAY_PAGE).await?;
            for m in &page {
                out.send(&Out::Message { message: m }, None);
            }
            match page.last() {
                Some(last) if page.len() == REPLAY_PAGE as usize => after_seq = last.seq,
                Some(last) => return Ok(last.seq),
                None => return Ok(after_seq),
            }
        }
    }

    async fn may_read(&self, id: ConversationId) -> Result<bool, ChatError> {
        if self.follows(id) {
            return Ok(true);
        }
        let c = self.app.store.conversation(id).await?;
        Ok(c.is_some_and(|c| {
            c.agent_id == Some(self.agent.id)
                || (self.agent.role == Role::Admin && c.org_id == self.agent.org_id)
        }))
    }

    async fn handle(
        &mut self,
        frame: AgentIn,
        rid: Option<&str>,
        out: &mut Replies,
    ) -> Result<(), ChatError> {
        match frame {
            AgentIn::Ping => out.send(&Out::Pong, rid),
            AgentIn::Presence { status } => {
                let Some(chosen) = Presence::parse(&status) else {
                    return Err(ChatError::Invalid(
                        "invalid_field",
                        "status must be available, busy, away or offline".to_string(),
                    ));
                };
                let status = self.app.chat.set_presence(self.agent.org_id, self.agent.id, chosen).await?;
                out.send(&Out::Presence { status }, rid);
            }
            AgentIn::Accept { conversation_id } => {
                // Follow the conversation before accepting, so the "joined" message published
                // by the accept cannot slip past this socket.
                let topic = Topic::Conversation(conversation_id);
                self.app.hub.subscribe(self.sid, topic).await;
                match self.app.chat.accept(conversation_id, &self.agent).await {
                    Ok(c) => {
                        self.follow(&c).await;
                        out.send(&Out::Chat { conversation: self.view(&c, None), existing: false }, rid);
                    }
                    Err(e) => {
                        if !self.follows(conversation_id) {
                            self.app.hub.unsubscribe(self.sid, topic);
                        }
                        return Err(e);
                    }
                }
            }
            AgentIn::Take { conversation_id } => {
                // As with an accept: follow first, so the "joined" message cannot slip past.
                let topic = Topic::Conversation(conversation_id);
                self.app.hub.subscribe(self.sid, topic).await;
                match self.app.chat.take(conversation_id, &self.agent).await {
                    Ok(c) => {
                        self.follow(&c).await;
                        if self.waiting.remove(&c.id) {
                            out.send(&Out::WaitingGone { conversation_id: c.id }, None);
                        }
                        out.send(&Out::Chat { conversation: self.view(&c, None), existing: false }, rid);
                    }
                    Err(e) => {
                        if !self.follows(conversation_id) {
                            self.app.hub.unsubscribe(self.sid, topic);
                        }
                        return Err(e);
                    }
                }
            }
            AgentIn::Reject { conversation_id } => {
                self.app.chat.decline(conversation_id, self.agent.id).await?;
                self.conversations.remove(&conversation_id);
                out.send(&Out::Ok, rid);
            }
            AgentIn::Send { conversation_id, client_msg_id, text } => {
                let (text, client_msg_id) =
                    match (MessageText::parse(&text), ClientMsgId::parse(&client_msg_id)) {
                        (Ok(t), Ok(c)) => (t, c),
                        (Err(e), _) | (_, Err(e)) => {
                            return Err(ChatError::Invalid("invalid_message", e.to_string()));
                        }
                    };
                let sender = Sender::agent(self.agent.id, self.agent.name.clone());
                let a =
                    self.app.chat.send(conversation_id, sender, text, client_msg_id).await.map_err(|e| {
                        match e {
                            // Do not reveal whether a conversation that is not yours exists.
                            ChatError::NoOpenConversation => ChatError::NotYours,
                            e => e,
                        }
                    })?;
                out.send(
                    &Out::Ack {
                        client_msg_id: a.message.client_msg_id.as_deref().unwrap_or_default(),
                        conversation_id,
                        seq: a.message.seq,
                        duplicate: a.duplicate,
                    },
                    rid,
                );
            }
            AgentIn::Typing { conversation_id, typing } => {
                if !self.follows(conversation_id) {
                    return Err(ChatError::NotYours);
                }
                self.app.chat.typing(conversation_id, SenderKind::Agent, typing).await;
            }
            AgentIn::End { conversation_id } => {
                // Keep following until the "ended" events arrive: the closing message and then
                // the `chat` update (which stops the following) reach this console too.
                self.app.chat.end_by_agent(conversation_id, &self.agent).await?;
                out.send(&Out::Ok, rid);
            }
            AgentIn::Transfer { conversation_id, queue_id, agent_id, note } => {
                let to = match (queue_id, agent_id) {
                    (Some(q), None) => TransferTarget::Queue(q),
                    (None, Some(a)) => TransferTarget::Agent(a),
                    _ => {
                        return Err(ChatError::Invalid(
                            "invalid_field",
                            "give either queue_id or agent_id".into(),
                        ));
                    }
                };
                self.app.chat.transfer(conversation_id, &self.agent, to, note).await?;
                out.send(&Out::Ok, rid);
            }
            AgentIn::Invite { visitor_id, message } => {
                let message = message.trim().to_owned();
                if message.is_empty() || message.chars().count() > 4_000 {
                    return Err(ChatError::Invalid(
                        "invalid_field",
                        "the invite message must be 1–4,000 characters".into(),
                    ));
                }
                let visitor = self.app.cluster.live_visitor(visitor_id).await;
                let Some(visitor) = visitor.filter(|v| v.org_id == self.agent.org_id) else {
                    return Err(ChatError::Invalid(
                        "visitor_offline",
                        "this visitor is no longer on the site".into(),
                    ));
                };
                if visitor.conversation_id.is_some() {
                    return Err(ChatError::Invalid(
                        "visitor_chatting",
                        "this visitor is already in a chat".into(),
                    ));
                }
                let widget = self.app.store.widget(visitor.widget_id).await?;
                let expiry_ms = widget.map_or(60_000, |w| w.settings.invite_expiry_ms);
                let invite = Invite {
                    invite_id: format!("agent-{}", uuid::Uuid::new_v4().simple()),
                    message,
                    translations: Default::default(),
                    prechat: false,
                    expiry_ms,
                    source: format!("agent:{}", self.agent.id),
                };
                let invite_id = invite.invite_id.clone();
                // The node holding the visitor's tabs marks them invited in the live list.
                self.app.chat.send_invite(visitor.widget_id, visitor_id, invite, None).await?;
                out.send(&Out::InviteSent { invite_id: &invite_id }, rid);
            }
            AgentIn::Sync { conversation_id, after_seq } => {
                if !self.may_read(conversation_id).await? {
                    return Err(ChatError::NotYours);
                }
                let replayed = self.replay(conversation_id, after_seq, out).await?;
                if let Some(d) = self.delivered.get_mut(&conversation_id) {
                    *d = (*d).max(replayed);
                }
                out.send(&Out::Ok, rid);
            }
        }
        Ok(())
    }
}

impl Handler for AgentSession {
    async fn on_start(&mut self, out: &mut Replies) {
        self.app.hub.subscribe(self.sid, Topic::Agent(self.agent.id)).await;
        self.app.hub.subscribe(self.sid, Topic::Org(self.agent.org_id)).await;
        let presence = match self.app.chat.agent_connected(&self.agent, &self.console_id()).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "recording the agent's console failed");
                out.error("internal", "could not open your console; reconnect", None);
                out.close = Some((1011, "internal error"));
                return;
            }
        };
        let open = match self.app.store.open_conversations_of_agent(self.agent.id).await {
            Ok(open) => open,
            Err(e) => {
                tracing::error!(error = %e, "loading the agent's conversations failed");
                out.error("internal", "could not load your conversations; reconnect", None);
                out.close = Some((1011, "internal error"));
                return;
            }
        };
        let mut views = Vec::with_capacity(open.len());
        for c in &open {
            self.follow(c).await;
            views.push(self.view(c, None));
        }
        let waiting = match self.load_serves().await {
            Ok(()) => self.waiting_list().await,
            Err(e) => Err(e),
        };
        let waiting = match waiting {
            Ok(list) => list.iter().map(|c| self.view(c, None)).collect(),
            Err(e) => {
                tracing::error!(error = %e, "loading the waiting chats failed");
                out.error("internal", "could not load the waiting chats; reconnect", None);
                out.close = Some((1011, "internal error"));
                return;
            }
        };
        let agent = AgentInfo {
            id: self.agent.id,
            name: self.agent.name.clone(),
            email: self.agent.email.clone(),
            role: self.agent.role,
            capacity: self.agent.capacity,
        };
        let mail = self.app.settings.mail.enabled();
        let server_time = self.app.clock.now();
        out.send(
            &Out::AgentWelcome { agent, presence, conversations: views, waiting, mail, server_time },
            None,
        );
    }

    async fn on_text(&mut self, text: &str, out: &mut Replies) {
        let (rid, frame) = match parse::<AgentIn>(text) {
            Ok(ok) => ok,
            Err((rid, msg)) => return out.error("bad_frame", &msg, rid.as_deref()),
        };
        let rid = rid.as_deref();
        if let Err(e) = self.handle(frame, rid, out).await {
            if let ChatError::Store(e) = &e {
                tracing::error!(error = %e, agent = %self.agent.id, "agent request failed");
            }
            out.error(e.code(), &e.client_message(), rid);
        }
    }

    async fn on_event(&mut self, envelope: &Envelope, out: &mut Replies) {
        // Every event is checked here, at delivery, against what this agent may see now — not
        // only where subscriptions are made: a subscription can outlive a right (an accept that
        // the store refused, a transfer away), and events queued meanwhile must not leak.
        match &envelope.event {
            // In seq order with no gap, however the bus delivers them: a repeat is dropped, a
            // message after a gap waits until the gap is filled from the store.
            Event::Message { message } if self.follows(message.conversation_id) => {
                let c = message.conversation_id;
                let delivered = self.delivered.get(&c).copied().unwrap_or(0);
                if message.seq == delivered + 1 {
                    out.send(&Out::Message { message }, None);
                    self.delivered.insert(c, message.seq);
                } else if message.seq > delivered + 1 {
                    match self.replay(c, delivered, out).await {
                        Ok(seq) => {
                            self.delivered.insert(c, seq);
                        }
                        Err(e) => tracing::warn!(error = %e, "filling a gap in the messages failed"),
                    }
                }
            }
            Event::Typing { conversation_id, from: SenderKind::Visitor, typing }
                if self.follows(*conversation_id) =>
            {
                out.send(
                    &Out::Typing {
                        conversation_id: *conversation_id,
                        from: SenderKind::Visitor,
                        typing: *typing,
                    },
                    None,
                )
            }
            Event::Conversation { conversation: c, agent_name } => {
                let before = self.conversations.get(&c.id).copied();
                // No longer this agent's (ended, transferred): the messages written just before
                // the change may still be on their way by another topic; read them first.
                let leaving = before == Some(Relation::Assigned)
                    && !(c.agent_id == Some(self.agent.id) && c.state.is_open());
                if leaving
                    && let Some(after) = self.delivered.get(&c.id).copied()
                    && let Err(e) = self.replay(c.id, after, out).await
                {
                    tracing::warn!(error = %e, "reading a conversation's last messages failed");
                }
                let now = self.follow(c).await;
                let view = self.view(c, agent_name.clone());
                self.update_waiting(c, &view, out);
                match (before, now) {
                    (before, Some(Relation::Offered)) if before != Some(Relation::Offered) => {
                        out.send(&Out::Offer { conversation: view }, None)
                    }
                    // The visitor rated a chat this agent had (ended, so no longer followed).
                    (None, None) if c.agent_id == Some(self.agent.id) && c.rating.is_some() => {
                        out.send(&Out::Chat { conversation: view, existing: true }, None)
                    }
                    (None, None) => {}
                    _ => out.send(&Out::Chat { conversation: view, existing: true }, None),
                }
            }
            Event::VisitorUpdated { visitor } if visitor.org_id == self.agent.org_id => {
                out.send(&Out::Visitor { visitor }, None)
            }
            Event::VisitorLeft { org_id, visitor_id } if *org_id == self.agent.org_id => {
                out.send(&Out::VisitorLeft { visitor_id: *visitor_id }, None)
            }
            Event::AgentChanged { agent_id } if *agent_id == self.agent.id => self.recheck_session(out).await,
            // Events may have been lost between nodes: the console reconnects and its welcome
            // (and the syncs that follow) bring it up to date from the store.
            Event::Missed => out.close = Some((1012, "reconnect to catch up")),
            Event::Presence { agent_id, presence, .. } if *agent_id == self.agent.id => {
                out.send(&Out::Presence { status: *presence }, None)
            }
            Event::Presence { org_id, agent_id, presence } if *org_id == self.agent.org_id => {
                out.send(&Out::AgentPresence { agent_id: *agent_id, status: *presence }, None)
            }
            _ => {}
        }
    }

    async fn on_tick(&mut self, out: &mut Replies) {
        self.recheck_session(out).await;
    }

    async fn on_end(&mut self) {
        self.app.chat.agent_disconnected(&self.console_id()).await;
    }
}
