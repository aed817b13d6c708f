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
use beckon_domain::events::{Envelope, Event, Invite, InviteStatus, Topic};
use beckon_domain::message::Sender;
use beckon_domain::model::{Agent, Conversation, Role};
use beckon_domain::*;
use std::collections::HashMap;

const REPLAY_PAGE: u32 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Offered,
    Assigned,
}

pub struct AgentSession {
    app: AppState,
    sid: SessionId,
    agent: Agent,
    conversations: HashMap<ConversationId, Relation>,
}

impl AgentSession {
    pub fn new(app: AppState, sid: SessionId, agent: Agent) -> Self {
        Self { app, sid, agent, conversations: HashMap::new() }
    }

    fn view(&self, c: &Conversation, agent_name: Option<String>) -> ConversationView {
        let name =
            agent_name.or_else(|| (c.agent_id == Some(self.agent.id)).then(|| self.agent.name.clone()));
        ConversationView::new(c, name, true)
    }

    /// Starts or stops following a conversation after a change; returns the frame to send, if
    /// the change concerns this agent.
    fn follow(&mut self, c: &Conversation) -> Option<Relation> {
        let me = Some(self.agent.id);
        let now = if c.agent_id == me && c.state.is_open() {
            Some(Relation::Assigned)
        } else if c.offered_agent_id == me && c.state.is_waiting() {
            Some(Relation::Offered)
        } else {
            None
        };
        match now {
            Some(Relation::Assigned) => self.app.hub.subscribe(self.sid, Topic::Conversation(c.id)),
            _ => self.app.hub.unsubscribe(self.sid, Topic::Conversation(c.id)),
        }
        match now {
            Some(rel) => self.conversations.insert(c.id, rel),
            None => self.conversations.remove(&c.id),
        };
        now
    }

    async fn may_read(&self, id: ConversationId) -> Result<bool, ChatError> {
        if self.conversations.get(&id) == Some(&Relation::Assigned) {
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
                self.app.hub.subscribe(self.sid, topic);
                match self.app.chat.accept(conversation_id, &self.agent).await {
                    Ok(c) => {
                        self.follow(&c);
                        out.send(&Out::Chat { conversation: self.view(&c, None), existing: false }, rid);
                    }
                    Err(e) => {
                        if self.conversations.get(&conversation_id) != Some(&Relation::Assigned) {
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
                if self.conversations.get(&conversation_id) != Some(&Relation::Assigned) {
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
                let Some(visitor) = self.app.live.get(visitor_id).filter(|v| v.org_id == self.agent.org_id)
                else {
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
                    prechat: false,
                    expiry_ms,
                    source: format!("agent:{}", self.agent.id),
                };
                let status = InviteStatus {
                    invite_id: invite.invite_id.clone(),
                    source: invite.source.clone(),
                    outcome: "offered".into(),
                    at: self.app.clock.now(),
                };
                self.app.chat.send_invite(visitor.widget_id, visitor_id, invite).await?;
                self.app.live.set_invite(visitor_id, status.clone()).await;
                out.send(&Out::InviteSent { invite_id: &status.invite_id }, rid);
            }
            AgentIn::Sync { conversation_id, mut after_seq } => {
                if !self.may_read(conversation_id).await? {
                    return Err(ChatError::NotYours);
                }
                loop {
                    let page = self.app.store.messages_after(conversation_id, after_seq, REPLAY_PAGE).await?;
                    for m in &page {
                        out.send(&Out::Message { message: m }, None);
                    }
                    match page.last() {
                        Some(last) if page.len() == REPLAY_PAGE as usize => after_seq = last.seq,
                        _ => break,
                    }
                }
                out.send(&Out::Ok, rid);
            }
        }
        Ok(())
    }
}

impl Handler for AgentSession {
    async fn on_start(&mut self, out: &mut Replies) {
        self.app.hub.subscribe(self.sid, Topic::Agent(self.agent.id));
        self.app.hub.subscribe(self.sid, Topic::Org(self.agent.org_id));
        let presence = self.app.chat.agent_connected(&self.agent).await;
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
            self.follow(c);
            views.push(self.view(c, None));
        }
        let agent = AgentInfo {
            id: self.agent.id,
            name: self.agent.name.clone(),
            email: self.agent.email.clone(),
            role: self.agent.role,
            capacity: self.agent.capacity,
        };
        out.send(&Out::AgentWelcome { agent, presence, conversations: views }, None);
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
            let message = if e.code() == "internal" {
                "the server failed; try again".to_string()
            } else {
                e.to_string()
            };
            out.error(e.code(), &message, rid);
        }
    }

    async fn on_event(&mut self, envelope: &Envelope, out: &mut Replies) {
        match &envelope.event {
            Event::Message { message } => out.send(&Out::Message { message }, None),
            Event::Typing { conversation_id, from: SenderKind::Visitor, typing } => out.send(
                &Out::Typing {
                    conversation_id: *conversation_id,
                    from: SenderKind::Visitor,
                    typing: *typing,
                },
                None,
            ),
            Event::Conversation { conversation: c, agent_name } => {
                let before = self.conversations.get(&c.id).copied();
                let now = self.follow(c);
                let view = self.view(c, agent_name.clone());
                match (before, now) {
                    (before, Some(Relation::Offered)) if before != Some(Relation::Offered) => {
                        out.send(&Out::Offer { conversation: view }, None)
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
            Event::Presence { agent_id, presence } if *agent_id == self.agent.id => {
                out.send(&Out::Presence { status: *presence }, None)
            }
            Event::Presence { agent_id, presence } => {
                out.send(&Out::AgentPresence { agent_id: *agent_id, status: *presence }, None)
            }
            _ => {}
        }
    }

    async fn on_end(&mut self) {
        self.app.chat.agent_disconnected(self.agent.org_id, self.agent.id).await;
    }
}
