//! Conversations: starting, messaging, typing, accepting, ending — and routing them to agents.
//!
//! Both gateways (visitor and agent sockets) call into [`Chat`]; it checks the rules, writes to
//! the store, and only then publishes events on the bus, so an event always describes something
//! already durable. Routing (which agent is offered a waiting conversation) lives here too
//! because it reacts to the same changes: a new conversation, an agent becoming available, an
//! agent's capacity freeing up. The choice itself is `beckon_domain::assignment::pick_agent`.

use crate::presence::PresenceBoard;
use crate::timers::Timers;
use crate::visitor_auth::Identity;
use beckon_bus::Bus;
use beckon_domain::assignment::{AgentLoad, pick_agent};
use beckon_domain::events::{Envelope, Event, Invite, Topic};
use beckon_domain::message::{INTERNAL_TAG, Message, NewMessage, Sender};
use beckon_domain::model::{Agent, Conversation, Widget};
use beckon_domain::routing::{self, RouteFacts};
use beckon_domain::*;
use beckon_store::{Appended, NewConversation, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("there is no open conversation")]
    NoOpenConversation,
    #[error("this conversation is not yours")]
    NotYours,
    #[error("this conversation has ended")]
    Closed,
    #[error("this conversation is no longer offered to you")]
    OfferGone,
    /// The queue the chat would go to is outside its operating hours (and when it opens).
    #[error("we are closed right now")]
    QueueClosed(Option<Timestamp>),
    /// A field of the request breaks a rule: the protocol error code, and what is wrong.
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ChatError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConversationClosed => ChatError::Closed,
            StoreError::NotAssigned => ChatError::NotYours,
            StoreError::NotFound("conversation") => ChatError::NoOpenConversation,
            e => ChatError::Store(e),
        }
    }
}

impl ChatError {
    /// The protocol's error code (docs/protocol.md).
    pub fn code(&self) -> &'static str {
        match self {
            ChatError::NoOpenConversation => "no_open_conversation",
            ChatError::NotYours => "not_your_conversation",
            ChatError::Closed => "conversation_closed",
            ChatError::OfferGone => "offer_gone",
            ChatError::Invalid(code, _) => code,
            ChatError::QueueClosed(_) => "queue_closed",
            ChatError::Store(_) => "internal",
        }
    }
}

pub type ChatResult<T> = Result<T, ChatError>;

/// What the visitor's session knows that routing may use.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub page_url: Option<String>,
    pub country: Option<String>,
    /// The queue a trigger rule's invite named, when the chat comes from one.
    pub invited_to: Option<QueueId>,
}

/// Where a transferred conversation goes.
#[derive(Debug, Clone, Copy)]
pub enum TransferTarget {
    Queue(QueueId),
    Agent(AgentId),
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Availability {
    pub queue_id: Option<QueueId>,
    pub is_queue_available: bool,
    pub is_agent_available: bool,
    pub position_in_queue: Option<i64>,
    pub average_wait_time_s: Option<i64>,
    /// When the queue next opens (null when open now or without hours).
    pub start_time_of_next_operating_hour: Option<Timestamp>,
    /// When the current or next opening ends.
    pub end_time_of_next_operating_hour: Option<Timestamp>,
}

pub struct Chat {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    timers: Arc<Timers>,
    /// An offer not accepted within this time goes to the next agent.
    offer_timeout_ms: i64,
    /// How long an agent whose consoles all closed stays as they were (a reload, a network blip).
    presence_grace_ms: i64,
    shutdown: CancellationToken,
    /// For the timer tasks the service spawns.
    me: Weak<Chat>,
    pub presence: PresenceBoard,
    /// Routing decisions on this node are made one at a time, so two conversations are never
    /// both given an agent's last free slot.
    routing: tokio::sync::Mutex<()>,
    /// Agents who declined a conversation are not offered it again.
    declined: Mutex<HashMap<ConversationId, Vec<AgentId>>>,
    /// The place in line each waiting visitor was last told.
    positions: Mutex<HashMap<ConversationId, i64>>,
    /// Queues whose place-in-line news is being sent in the background; `true` when something
    /// changed meanwhile and another round is due.
    announcing: Mutex<HashMap<QueueId, bool>>,
}

impl Chat {
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        timers: Arc<Timers>,
        offer_timeout_ms: i64,
        presence_grace_ms: i64,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            store,
            bus,
            timers,
            offer_timeout_ms,
            presence_grace_ms,
            shutdown,
            me: me.clone(),
            presence: PresenceBoard::default(),
            routing: tokio::sync::Mutex::new(()),
            declined: Mutex::new(HashMap::new()),
            positions: Mutex::new(HashMap::new()),
            announcing: Mutex::new(HashMap::new()),
        })
    }

    fn now(&self) -> Timestamp {
        self.timers.now()
    }

    /// Takes the offer back if the agent has not accepted it in time, and offers the
    /// conversation to someone else (not to that agent again).
    fn expire_offer_later(&self, conversation: ConversationId, agent: AgentId) {
        let Some(me) = self.me.upgrade() else { return };
        let due = self.now().plus_millis(self.offer_timeout_ms);
        tokio::spawn(async move {
            tokio::select! {
                _ = me.shutdown.cancelled() => return,
                _ = me.timers.sleep_until(due) => {}
            }
            match me.store.withdraw_offer(conversation, agent).await {
                Ok(true) => {}
                Ok(false) => return, // accepted, declined or closed in the meantime
                Err(e) => return tracing::error!(error = %e, "expiring an offer failed"),
            }
            tracing::info!(conversation = %conversation, agent = %agent, "offer not accepted in time; offering elsewhere");
            me.declined.lock().expect("declined lock").entry(conversation).or_default().push(agent);
            if let Ok(Some(c)) = me.store.conversation(conversation).await {
                me.publish_conversation(&c, &[agent]).await;
                if let Some(q) = c.queue_id {
                    me.route_queue(q).await;
                }
            }
        });
    }

    /// Starts a conversation for the visitor, or returns the open one (`true` = it existed).
    /// `identity`: the authenticated visitor, whose token's context wins over the page's.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        &self,
        widget: &Widget,
        visitor: VisitorId,
        context: Context,
        proactive: bool,
        invite_id: Option<String>,
        identity: Option<&Identity>,
        seen: &Seen,
    ) -> ChatResult<(Conversation, bool)> {
        if let Some(open) = self.store.open_conversation_of_visitor(visitor).await? {
            return Ok((open, true));
        }
        let context = match identity {
            Some(id) => context.merged_with(id.context.clone()),
            None => context,
        };
        // A trigger rule that named a queue sends its invitees there; otherwise routing rules
        // choose the queue, and the widget's queue is the fallback.
        let rules = match seen.invited_to {
            Some(_) => Vec::new(),
            None => self.store.routing_rules(widget.org_id).await?,
        };
        let facts = RouteFacts {
            context: &context,
            page_url: seen.page_url.as_deref(),
            country: seen.country.as_deref(),
            authenticated: identity.is_some(),
            proactive,
        };
        let queue_id = match routing::route(&rules, &facts) {
            Some((i, queue)) => {
                tracing::debug!(rule = %rules[i].name, queue = %queue, "routing rule matched");
                Some(queue)
            }
            None => seen.invited_to.or(widget.default_queue_id),
        };
        if let Some(q) = queue_id
            && let Some(hours) = self.store.queue(q).await?.and_then(|q| q.hours)
        {
            let status = hours.status(self.now());
            if !status.open {
                return Err(ChatError::QueueClosed(status.opens_at));
            }
        }
        let new = NewConversation {
            auth_sub: identity.map(|i| i.sub.clone()),
            org_id: widget.org_id,
            widget_id: widget.id,
            visitor_id: visitor,
            queue_id,
            proactive,
            invite_id,
            context,
        };
        let conversation = match self.store.create_conversation(new, self.now()).await {
            Ok(c) => c,
            // Another tab started one at the same moment: that one is the visitor's chat.
            Err(StoreError::Conflict(_)) => {
                let open = self.store.open_conversation_of_visitor(visitor).await?;
                return open.map(|c| (c, true)).ok_or(ChatError::NoOpenConversation);
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(conversation = %conversation.id, visitor = %visitor, proactive, "conversation started");
        self.publish_conversation(&conversation, &[]).await;
        if let Some(queue) = conversation.queue_id {
            if let Err(e) = self.try_route_queue(queue).await {
                tracing::error!(error = %e, queue = %queue, "routing failed");
            }
            // The newcomer hears their place in line before the reply (so before anything they
            // could send, and while their tabs are already listening); the others' news follows.
            if let Err(e) = self.announce_positions(queue, Some(conversation.id)).await {
                tracing::error!(error = %e, queue = %queue, "announcing the place in line failed");
            }
            self.positions_changed(queue);
        }
        Ok((conversation, false))
    }

    /// Stores a visitor's or agent's message and tells everyone in the conversation.
    pub async fn send(
        &self,
        conversation: ConversationId,
        sender: Sender,
        text: MessageText,
        client_msg_id: ClientMsgId,
    ) -> ChatResult<Appended> {
        let new = NewMessage {
            conversation_id: conversation,
            sender,
            text,
            tags: vec![],
            client_msg_id: Some(client_msg_id),
        };
        let appended = self.store.append_message(new, self.now()).await?;
        // Published even for a duplicate: if the first attempt was stored but the node stopped
        // before publishing, this is the retry that tells the other side. Clients drop repeats.
        self.publish(
            vec![Topic::Conversation(conversation)],
            Event::Message { message: appended.message.clone() },
        )
        .await;
        Ok(appended)
    }

    async fn system_message(
        &self,
        conversation: ConversationId,
        text: String,
        tags: &[&str],
    ) -> ChatResult<Message> {
        let new = NewMessage {
            conversation_id: conversation,
            sender: Sender::system(),
            text: MessageText::system(text),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            client_msg_id: None,
        };
        let message = self.store.append_message(new, self.now()).await?.message;
        self.publish(vec![Topic::Conversation(conversation)], Event::Message { message: message.clone() })
            .await;
        Ok(message)
    }

    pub async fn typing(&self, conversation: ConversationId, from: SenderKind, typing: bool) {
        self.publish(
            vec![Topic::Conversation(conversation)],
            Event::Typing { conversation_id: conversation, from, typing },
        )
        .await;
    }

    /// An anonymous visitor signed in: their open conversation continues as the authenticated
    /// person's, with the token's context variables added (they win on a name clash).
    pub async fn authenticate(
        &self,
        visitor: VisitorId,
        identity: &Identity,
    ) -> ChatResult<Option<Conversation>> {
        self.store.set_visitor_auth_sub(visitor, &identity.sub).await?;
        let Some(open) = self.store.open_conversation_of_visitor(visitor).await? else { return Ok(None) };
        let context = open.context.clone().merged_with(identity.context.clone());
        let updated = self.store.authenticate_conversation(open.id, &identity.sub, &context).await?;
        if let Some(c) = &updated {
            tracing::info!(conversation = %c.id, "visitor authenticated during the conversation");
            self.publish_conversation(c, &[]).await;
        }
        Ok(updated)
    }

    /// The visitor closed the chat: `abandoned` if no agent had accepted it, else `ended`.
    pub async fn close_by_visitor(
        &self,
        conversation: ConversationId,
        visitor: VisitorId,
    ) -> ChatResult<Conversation> {
        let c = self.store.conversation(conversation).await?.ok_or(ChatError::NoOpenConversation)?;
        if c.visitor_id != visitor {
            return Err(ChatError::NotYours);
        }
        let to = if c.accepted_at.is_none() { Transition::Abandon } else { Transition::End };
        let target = c.state.apply(to).map_err(|_| ChatError::Closed)?;
        let closed = self
            .store
            .close_conversation(conversation, target, self.now())
            .await?
            .ok_or(ChatError::Closed)?;
        self.system_message(
            conversation,
            "The visitor ended the chat.".into(),
            &["conversationended", "visitorended"],
        )
        .await?;
        self.after_close(&c, &closed).await;
        Ok(closed)
    }

    /// The assigned agent ended the chat.
    pub async fn end_by_agent(
        &self,
        conversation: ConversationId,
        agent: &Agent,
    ) -> ChatResult<Conversation> {
        let c = self.store.conversation(conversation).await?.ok_or(ChatError::NotYours)?;
        if c.agent_id != Some(agent.id) {
            return Err(ChatError::NotYours);
        }
        let target = c.state.apply(Transition::End).map_err(|_| ChatError::Closed)?;
        let closed = self
            .store
            .close_conversation(conversation, target, self.now())
            .await?
            .ok_or(ChatError::Closed)?;
        self.system_message(
            conversation,
            format!("{} ended the chat.", agent.name),
            &["conversationended", "agentended"],
        )
        .await?;
        self.after_close(&c, &closed).await;
        Ok(closed)
    }

    async fn after_close(&self, before: &Conversation, closed: &Conversation) {
        tracing::info!(conversation = %closed.id, state = closed.state.as_str(), "conversation closed");
        self.declined.lock().expect("declined lock").remove(&closed.id);
        self.positions.lock().expect("positions lock").remove(&closed.id);
        let offered: Vec<AgentId> = before.offered_agent_id.into_iter().collect();
        self.publish_conversation(closed, &offered).await;
        // The agent's slot (or pending offer) is free again.
        if let Some(agent) = before.agent_id.or(before.offered_agent_id) {
            self.route_agent(agent).await;
        }
    }

    pub async fn accept(&self, conversation: ConversationId, agent: &Agent) -> ChatResult<Conversation> {
        let accepted = self
            .store
            .accept_conversation(conversation, agent.id, self.now())
            .await?
            .ok_or(ChatError::OfferGone)?;
        tracing::info!(conversation = %conversation, agent = %agent.id, "conversation accepted");
        self.positions.lock().expect("positions lock").remove(&conversation);
        self.publish_conversation(&accepted, &[]).await;
        self.system_message(conversation, format!("{} joined the chat.", agent.name), &["agentaccepted"])
            .await?;
        // Everyone behind it in line moves up.
        if let Some(q) = accepted.queue_id {
            self.positions_changed(q);
        }
        Ok(accepted)
    }

    /// The assigned agent hands the conversation to another queue or agent, with an optional
    /// note only agents see. The visitor is told they are being transferred; the conversation
    /// waits (`transferred`) until the target accepts it.
    pub async fn transfer(
        &self,
        conversation: ConversationId,
        agent: &Agent,
        to: TransferTarget,
        note: Option<String>,
    ) -> ChatResult<Conversation> {
        let c = self.store.conversation(conversation).await?.ok_or(ChatError::NotYours)?;
        if c.agent_id != Some(agent.id) {
            return Err(ChatError::NotYours);
        }
        c.state.apply(Transition::Transfer).map_err(|_| ChatError::Closed)?;
        let (queue, to_agent) = match to {
            TransferTarget::Queue(q) => {
                let queue = self.store.queue(q).await?.filter(|q| q.org_id == agent.org_id);
                let queue =
                    queue.ok_or_else(|| ChatError::Invalid("invalid_field", "no such queue".into()))?;
                (Some(queue.id), None)
            }
            TransferTarget::Agent(a) => {
                let target =
                    self.store.agent(a).await?.filter(|t| t.org_id == agent.org_id && t.id != agent.id);
                let target =
                    target.ok_or_else(|| ChatError::Invalid("invalid_field", "no such colleague".into()))?;
                if self.presence.effective(target.id) == Presence::Offline {
                    return Err(ChatError::Invalid(
                        "agent_unavailable",
                        format!("{} is offline", target.name),
                    ));
                }
                (None, Some(target.id))
            }
        };
        if let Some(note) = note.filter(|n| !n.trim().is_empty()) {
            let text = MessageText::parse(&note)
                .map_err(|e| ChatError::Invalid("invalid_message", e.to_string()))?;
            let new = NewMessage {
                conversation_id: conversation,
                sender: Sender::agent(agent.id, agent.name.clone()),
                text,
                tags: vec![INTERNAL_TAG.into(), "transfernote".into()],
                client_msg_id: None,
            };
            let message = self.store.append_message(new, self.now()).await?.message;
            self.publish(vec![Topic::Conversation(conversation)], Event::Message { message }).await;
        }
        let moved = self
            .store
            .transfer_conversation(conversation, agent.id, queue, to_agent)
            .await?
            .ok_or(ChatError::Closed)?;
        tracing::info!(conversation = %conversation, from = %agent.id, ?to_agent, ?queue, "conversation transferred");
        self.declined.lock().expect("declined lock").remove(&conversation);
        self.system_message(
            conversation,
            "You are being transferred to another agent.".into(),
            &["agentleft", "transferred"],
        )
        .await?;
        self.publish_conversation(&moved, &[agent.id]).await;
        if let Some(a) = to_agent {
            self.presence.mark_assigned(a, self.now());
            self.expire_offer_later(conversation, a);
        } else if let Some(q) = moved.queue_id {
            self.route_queue(q).await;
        }
        // The transferring agent has a free slot again.
        self.route_agent(agent.id).await;
        Ok(moved)
    }

    /// The agent declined an offer; it goes to someone else.
    pub async fn decline(&self, conversation: ConversationId, agent: AgentId) -> ChatResult<()> {
        if !self.store.withdraw_offer(conversation, agent).await? {
            return Err(ChatError::OfferGone);
        }
        self.declined.lock().expect("declined lock").entry(conversation).or_default().push(agent);
        if let Some(c) = self.store.conversation(conversation).await? {
            self.publish_conversation(&c, &[agent]).await;
            if let Some(q) = c.queue_id {
                self.route_queue(q).await;
            }
        }
        Ok(())
    }

    /// What `getAgentAvailability()` answers for a widget's visitor: the queue the visitor's
    /// chat goes to, whether an agent could take it now, the visitor's place in the queue if
    /// waiting, and the queue's average wait over the last day.
    pub async fn availability(
        &self,
        widget: &Widget,
        waiting: Option<ConversationId>,
    ) -> ChatResult<Availability> {
        let Some(queue) = widget.default_queue_id else {
            return Ok(Availability::default());
        };
        let capacity = self.queue_capacity(queue).await?;
        let position = match waiting {
            Some(c) => self.store.queue_position(c).await?,
            None => None,
        };
        Ok(Availability {
            queue_id: Some(queue),
            is_queue_available: capacity.open,
            is_agent_available: capacity.free_agent && capacity.open,
            position_in_queue: position,
            average_wait_time_s: capacity.average_wait_ms.map(|ms| (ms + 999) / 1_000),
            start_time_of_next_operating_hour: capacity.opens_at,
            end_time_of_next_operating_hour: capacity.closes_at,
        })
    }

    /// Whether a queue can take a conversation now: its hours, a free agent, the wait to expect.
    /// `getAgentAvailability()` and the trigger rules' capacity limits both answer from this.
    pub async fn queue_capacity(&self, queue: QueueId) -> ChatResult<QueueCapacity> {
        let agents = self.store.queue_agents(queue).await?;
        let ids: Vec<AgentId> = agents.iter().map(|a| a.id).collect();
        let loads = self.store.agent_loads(&ids).await?;
        let free_agent = agents.iter().any(|a| {
            self.presence.effective(a.id).takes_new_conversations()
                && loads.get(&a.id).copied().unwrap_or(0) < a.capacity
        });
        let day_ago = Timestamp(self.now().0 - 24 * 3_600_000);
        let average_wait_ms = self.store.average_wait_ms(queue, day_ago).await?;
        let hours = self.store.queue(queue).await?.and_then(|q| q.hours).map(|h| h.status(self.now()));
        let open = hours.is_none_or(|h| h.open);
        // Nobody free: a newcomer waits behind everyone already waiting, each taking about the
        // average wait. Unknown when there is no recent wait to go by.
        let predicted_wait_s = match (open && free_agent, average_wait_ms) {
            (true, _) => Some(0),
            (false, Some(avg)) => {
                let ahead = self.store.unoffered_waiting(queue).await?.len() as i64;
                u32::try_from((avg * (ahead + 1) + 999) / 1_000).ok()
            }
            (false, None) => None,
        };
        Ok(QueueCapacity {
            open,
            opens_at: hours.and_then(|h| h.opens_at),
            closes_at: hours.and_then(|h| h.closes_at),
            free_agent,
            average_wait_ms,
            predicted_wait_s,
        })
    }

    /// Sends an invite to the visitor's widget (all their tabs) and records it as offered.
    pub async fn send_invite(&self, widget: WidgetId, visitor: VisitorId, invite: Invite) -> ChatResult<()> {
        let ev = beckon_store::NewInviteEvent {
            widget_id: widget,
            visitor_id: visitor,
            invite_id: invite.invite_id.clone(),
            source: invite.source.clone(),
            outcome: "offered".into(),
            reason: None,
            message: invite.message.clone(),
        };
        // The invite goes out first: recording it is for analytics (idempotent, any order with
        // the widget's own outcome reports) and must not add a disk write to the invite latency.
        self.publish(vec![Topic::Visitor(visitor)], Event::Invite { visitor_id: visitor, invite }).await;
        if let Err(e) = self.store.record_invite_event(ev, self.now()).await {
            tracing::error!(error = %e, "recording a sent invite failed");
        }
        Ok(())
    }

    /// A console opened.
    pub async fn agent_connected(&self, agent: &Agent) -> Presence {
        let (before, after) = self.presence.connect(agent.id, agent.presence, self.now());
        self.presence_changed(agent.org_id, agent.id, before, after).await;
        after
    }

    /// A console closed.
    pub async fn agent_disconnected(&self, org: OrgId, agent: AgentId) {
        let Some(closing) = self.presence.disconnect(agent) else { return };
        let Some(me) = self.me.upgrade() else { return };
        let due = self.now().plus_millis(self.presence_grace_ms);
        tokio::spawn(async move {
            tokio::select! {
                _ = me.shutdown.cancelled() => return,
                _ = me.timers.sleep_until(due) => {}
            }
            let (before, after) = me.presence.expire(agent, closing);
            me.presence_changed(org, agent, before, after).await;
        });
    }

    /// The agent chose a presence (stored, so it survives a reload).
    pub async fn set_presence(&self, org: OrgId, agent: AgentId, chosen: Presence) -> ChatResult<Presence> {
        self.store.set_agent_presence(agent, chosen).await?;
        let before = self.presence.effective(agent);
        let after = self.presence.choose(agent, chosen, self.now());
        self.presence_changed(org, agent, before, after).await;
        Ok(after)
    }

    /// Tells the agent's own consoles and the rest of the organisation's (the admin's agents
    /// list, transfer targets), then hands on or takes back conversations.
    async fn presence_changed(&self, org: OrgId, agent: AgentId, before: Presence, after: Presence) {
        if before == after {
            return;
        }
        let topics = vec![Topic::Agent(agent), Topic::Org(org)];
        self.publish(topics, Event::Presence { agent_id: agent, presence: after }).await;
        if after.takes_new_conversations() {
            self.route_agent(agent).await;
        } else if !before.takes_new_conversations() {
            // Was not taking offers before either: nothing pending to hand on.
        } else {
            self.withdraw_offers_of(agent).await;
        }
    }

    /// Offers an agent who stopped taking conversations had not accepted go to someone else.
    async fn withdraw_offers_of(&self, agent: AgentId) {
        let Ok(open) = self.store.open_conversations_of_agent(agent).await else {
            return;
        };
        for c in open.into_iter().filter(|c| c.offered_agent_id == Some(agent)) {
            if matches!(self.store.withdraw_offer(c.id, agent).await, Ok(true)) {
                let c = Conversation { offered_agent_id: None, ..c };
                self.publish_conversation(&c, &[agent]).await;
                if let Some(q) = c.queue_id {
                    self.route_queue(q).await;
                }
            }
        }
    }

    async fn route_agent(&self, agent: AgentId) {
        match self.store.agent_queues(agent).await {
            Ok(queues) => {
                for q in queues {
                    self.route_queue(q).await;
                }
            }
            Err(e) => tracing::error!(error = %e, agent = %agent, "routing failed"),
        }
    }

    /// Offers the queue's waiting conversations, oldest first, to agents who can take them, and
    /// tells visitors still waiting where they are in line.
    pub async fn route_queue(&self, queue: QueueId) {
        if let Err(e) = self.try_route_queue(queue).await {
            tracing::error!(error = %e, queue = %queue, "routing failed");
        }
        self.positions_changed(queue);
    }

    /// Sends the queue's place-in-line news in the background, off the path of whoever changed
    /// the line: a burst of changes (many accepts at once) costs one round per queue, not one per
    /// change per waiting visitor.
    fn positions_changed(&self, queue: QueueId) {
        {
            let mut running = self.announcing.lock().expect("announcing lock");
            if let Some(again) = running.get_mut(&queue) {
                *again = true;
                return;
            }
            running.insert(queue, false);
        }
        let Some(me) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.announce_positions(queue, None).await {
                    tracing::error!(error = %e, queue = %queue, "announcing queue positions failed");
                }
                let mut running = me.announcing.lock().expect("announcing lock");
                match running.get_mut(&queue) {
                    Some(again) if *again => *again = false,
                    _ => {
                        running.remove(&queue);
                        return;
                    }
                }
            }
        });
    }

    /// Visitors whose chat nobody could take yet hear their place in line (system messages
    /// tagged `queueposition`) when they join it and whenever it changes, and once the average
    /// wait when one is known (`averagewaittime`). A chat offered straight away gets neither.
    /// `only`: just this conversation (a newcomer), else every waiting one of the queue.
    async fn announce_positions(
        &self,
        queue: QueueId,
        only: Option<ConversationId>,
    ) -> Result<(), ChatError> {
        let waiting = self.store.unoffered_waiting(queue).await?;
        let mut news = Vec::new();
        for c in waiting.iter().filter(|c| only.is_none_or(|id| id == c.id)) {
            let Some(position) = self.store.queue_position(c.id).await? else { continue };
            let mut told = self.positions.lock().expect("positions lock");
            let first = !told.contains_key(&c.id);
            if told.insert(c.id, position) != Some(position) {
                news.push((c.id, position, first));
            }
        }
        let average = match news.iter().any(|(_, _, first)| *first) {
            true => self.store.average_wait_ms(queue, Timestamp(self.now().0 - 24 * 3_600_000)).await?,
            false => None,
        };
        // Written together, so the store commits them in one group rather than one by one.
        let writes = news.into_iter().map(|(id, position, first)| async move {
            let text = if position == 1 {
                "You're next in line. An agent will be with you shortly.".to_owned()
            } else {
                format!("You are number {position} in line.")
            };
            self.system_message(id, text, &["queueposition"]).await?;
            if first && let Some(ms) = average {
                let minutes = ((ms + 59_999) / 60_000).max(1);
                let unit = if minutes == 1 { "minute" } else { "minutes" };
                let text = format!("The average wait is about {minutes} {unit}.");
                self.system_message(id, text, &["averagewaittime"]).await?;
            }
            Ok::<_, ChatError>(())
        });
        for result in futures_util::future::join_all(writes).await {
            result?;
        }
        Ok(())
    }

    async fn try_route_queue(&self, queue: QueueId) -> Result<(), StoreError> {
        let _one_at_a_time = self.routing.lock().await;
        let waiting = self.store.unoffered_waiting(queue).await?;
        if waiting.is_empty() {
            return Ok(());
        }
        let agents = self.store.queue_agents(queue).await?;
        let ids: Vec<AgentId> = agents.iter().map(|a| a.id).collect();
        let loads = self.store.agent_loads(&ids).await?;
        let mut board: Vec<AgentLoad> = agents
            .iter()
            .map(|a| AgentLoad {
                agent_id: a.id,
                presence: self.presence.effective(a.id),
                capacity: a.capacity,
                load: loads.get(&a.id).copied().unwrap_or(0),
                idle_since: self.presence.idle_since(a.id),
            })
            .collect();
        for c in waiting {
            let declined =
                self.declined.lock().expect("declined lock").get(&c.id).cloned().unwrap_or_default();
            let Some(agent) = pick_agent(&board, &declined) else {
                continue;
            };
            if !self.store.offer_conversation(c.id, agent).await? {
                continue;
            }
            if let Some(slot) = board.iter_mut().find(|a| a.agent_id == agent) {
                slot.load += 1;
                slot.idle_since = self.now();
            }
            self.presence.mark_assigned(agent, self.now());
            tracing::info!(conversation = %c.id, agent = %agent, "conversation offered");
            self.expire_offer_later(c.id, agent);
            self.publish_conversation(&Conversation { offered_agent_id: Some(agent), ..c }, &[]).await;
        }
        Ok(())
    }

    /// Tells everyone concerned that a conversation changed: its participants, its visitor's
    /// tabs, its agent and offered agent, and `also` (e.g. an agent whose offer was withdrawn).
    pub async fn publish_conversation(&self, c: &Conversation, also: &[AgentId]) {
        let mut topics = vec![Topic::Conversation(c.id), Topic::Visitor(c.visitor_id)];
        topics.extend(c.agent_id.iter().chain(&c.offered_agent_id).chain(also).map(|a| Topic::Agent(*a)));
        let agent_name = match c.agent_id {
            Some(a) => self.store.agent(a).await.ok().flatten().map(|a| a.name),
            None => None,
        };
        self.publish(topics, Event::Conversation { conversation: c.clone(), agent_name }).await;
    }

    async fn publish(&self, topics: Vec<Topic>, event: Event) {
        if let Err(e) = self.bus.publish(Envelope::new(topics, event)).await {
            // Stored state is intact; clients catch up by sequence number when they reconnect.
            tracing::error!(error = %e, "publishing an event failed");
        }
    }
}

/// A queue's readiness for one more conversation (see [`Chat::queue_capacity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCapacity {
    /// Inside its operating hours (or it has none).
    pub open: bool,
    pub opens_at: Option<Timestamp>,
    pub closes_at: Option<Timestamp>,
    /// An available agent of the queue has a free slot.
    pub free_agent: bool,
    /// Mean time to acceptance over the last 24 hours.
    pub average_wait_ms: Option<i64>,
    /// What a newcomer should expect to wait.
    pub predicted_wait_s: Option<u32>,
}
