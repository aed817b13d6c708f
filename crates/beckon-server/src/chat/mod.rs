//! Conversations: starting, messaging, typing, accepting, transferring, ending.
//!
//! Both gateways (visitor and agent sockets) call into [`Chat`]; it checks the rules, writes to
//! the store, and only then publishes events on the bus, so an event always describes something
//! already durable. Every decision that several nodes could make at once is settled in the store
//! (sequence numbers, one open conversation per visitor, capacity-checked offers, accepting an
//! offer), so any node may serve any request. Routing (`routing.rs`) and presence
//! (`presence.rs`) react to the same changes and live beside this file.

mod files;
pub use files::FileRefusal;
mod lines;
mod presence;
mod routing;

pub use lines::{Line, say};

use crate::new_visitors::NewVisitors;
use crate::timers::Timers;
use crate::visitor_auth::Identity;
use beckon_bus::Bus;
use beckon_domain::events::{Envelope, Event, Invite, Topic};
use beckon_domain::message::{INTERNAL_TAG, Message, NewMessage, Sender};
use beckon_domain::model::{Agent, Conversation, Queue, Role, Widget};
use beckon_domain::routing::RouteFacts;
use beckon_domain::*;
use beckon_store::{Appended, NewConversation, Store, StoreError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

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
            ChatError::Store(e) if e.is_unavailable() => "store_unavailable",
            ChatError::Store(_) => "internal",
        }
    }

    /// What the client is told: the error itself, or for a failure of the server's own only
    /// that it failed (and whether trying again later may help).
    pub fn client_message(&self) -> String {
        match self.code() {
            "internal" => "the server failed; try again".into(),
            "store_unavailable" => {
                "the server cannot reach its database right now; send it again (a message sent again with the same client_msg_id is never stored twice)".into()
            }
            _ => self.to_string(),
        }
    }
}

pub type ChatResult<T> = Result<T, ChatError>;

/// The most transcript emails one chat may send.
pub const TRANSCRIPTS_PER_CHAT: i64 = 3;

/// What the visitor's session knows that routing may use.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub page_url: Option<String>,
    pub country: Option<String>,
    /// The queue a trigger rule's invite named, when the chat comes from one.
    pub invited_to: Option<QueueId>,
    /// The agent whose own invite the visitor accepted: the chat is theirs at once.
    pub invited_by: Option<AgentId>,
}

/// Where a transferred conversation goes.
#[derive(Debug, Clone, Copy)]
pub enum TransferTarget {
    Queue(QueueId),
    Agent(AgentId),
}

pub use beckon_protocol::Availability;

fn chosen(first: QueueId, to: Queue) -> Queue {
    if to.id != first {
        tracing::info!(from = %first, to = %to.id, "queue closed or unstaffed: its fallback takes the chat");
    }
    to
}

pub struct Chat {
    store: Arc<dyn Store>,
    /// New visitors not stored yet: one that is sent an invite is stored first.
    new_visitors: Arc<NewVisitors>,
    bus: Arc<dyn Bus>,
    timers: Arc<Timers>,
    /// This node's id (its consoles are recorded under it).
    node_id: Arc<str>,
    /// Told when this node stores a new deadline, so the sweeper looks at it in time.
    deadlines: Arc<tokio::sync::Notify>,
    /// An offer not accepted within this time goes to the next agent.
    offer_timeout_ms: i64,
    /// How long an agent whose consoles all closed stays as they were (a reload, a network blip).
    presence_grace_ms: i64,
    /// For the background tasks the service spawns.
    me: Weak<Chat>,
    /// Routing decisions on this node are made one at a time (see `routing.rs`).
    routing: tokio::sync::Mutex<()>,
    /// Queues whose place-in-line news is being sent in the background; `true` when something
    /// changed meanwhile and another round is due.
    announcing: Mutex<HashMap<QueueId, bool>>,
}

/// What [`Chat::new`] needs besides the store and the bus.
pub struct ChatSettings {
    pub node_id: Arc<str>,
    pub offer_timeout_ms: i64,
    pub presence_grace_ms: i64,
}

impl Chat {
    pub fn new(
        store: Arc<dyn Store>,
        new_visitors: Arc<NewVisitors>,
        bus: Arc<dyn Bus>,
        timers: Arc<Timers>,
        deadlines: Arc<tokio::sync::Notify>,
        settings: ChatSettings,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            store,
            new_visitors,
            bus,
            timers,
            node_id: settings.node_id,
            deadlines,
            offer_timeout_ms: settings.offer_timeout_ms,
            presence_grace_ms: settings.presence_grace_ms,
            me: me.clone(),
            routing: tokio::sync::Mutex::new(()),
            announcing: Mutex::new(HashMap::new()),
        })
    }

    fn now(&self) -> Timestamp {
        self.timers.now()
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// How long an agent's closed consoles keep them as they were.
    pub fn presence_grace_ms(&self) -> i64 {
        self.presence_grace_ms
    }

    /// A deadline was stored (an offer): the sweeper may have to wake earlier than it planned.
    fn deadline_added(&self) {
        self.deadlines.notify_one();
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
        language: &str,
    ) -> ChatResult<(Conversation, bool)> {
        if let Some(open) = self.store.open_conversation_of_visitor(visitor).await? {
            return Ok((open, true));
        }
        let context = match identity {
            Some(id) => context.merged_with(id.context.clone()),
            None => context,
        };
        let (queue_id, queue) = self.queue_for(widget, &context, identity, seen, proactive).await?;
        if let Some(hours) = queue.as_ref().and_then(|q| q.hours.as_ref()) {
            let status = hours.status(self.now());
            if !status.open {
                return Err(ChatError::QueueClosed(status.opens_at));
            }
        }
        let leave_message_at = queue
            .and_then(|q| q.leave_message_after_secs)
            .map(|s| self.now().plus_millis(i64::from(s) * 1_000));
        let visitor_name = context.visitor_name();
        let new = NewConversation {
            auth_sub: identity.map(|i| i.sub.clone()),
            auth_iss: identity.map(|i| i.issuer.clone()),
            org_id: widget.org_id,
            widget_id: widget.id,
            visitor_id: visitor,
            queue_id,
            proactive,
            invite_id,
            context,
            reply_email: None,
            leave_message_at,
            language: language.to_owned(),
            visitor_name,
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
        if let Some(agent) = seen.invited_by
            && let Some(taken) = self.to_inviting_agent(&conversation, agent).await?
        {
            return Ok((taken, false));
        }
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

    /// The queue a new conversation goes to: a trigger rule's invite names it, else the routing
    /// rules choose, else the widget's; then its fallbacks (see [`Chat::with_fallback`]). The
    /// queue's id, and its record when it exists.
    async fn queue_for(
        &self,
        widget: &Widget,
        context: &Context,
        identity: Option<&Identity>,
        seen: &Seen,
        proactive: bool,
    ) -> ChatResult<(Option<QueueId>, Option<Queue>)> {
        let rules = match seen.invited_to {
            Some(_) => Vec::new(),
            None => self.store.routing_rules(widget.org_id).await?,
        };
        let facts = RouteFacts {
            context,
            page_url: seen.page_url.as_deref(),
            country: seen.country.as_deref(),
            authenticated: identity.is_some(),
            proactive,
        };
        let queue_id = match beckon_domain::routing::route(&rules, &facts) {
            Some((i, queue)) => {
                tracing::debug!(rule = %rules[i].name, queue = %queue, "routing rule matched");
                Some(queue)
            }
            None => seen.invited_to.or(widget.default_queue_id),
        };
        let queue = match queue_id {
            Some(q) => self.with_fallback(q).await?,
            None => None,
        };
        Ok((queue.as_ref().map(|q| q.id).or(queue_id), queue))
    }

    /// A message left for an answer by email (nobody can chat now, or the visitor would rather
    /// not wait): the visitor's waiting conversation becomes one, or a new one is started in the
    /// queue routing chooses — closed or not, it is read when agents are back. Routing never
    /// offers it; agents take it from the waiting list, and their answers are mailed
    /// (`mail/replies.rs`). An empty `text` adds nothing to a waiting chat's words.
    #[allow(clippy::too_many_arguments)]
    pub async fn leave_message(
        &self,
        widget: &Widget,
        visitor: VisitorId,
        context: Context,
        identity: Option<&Identity>,
        seen: &Seen,
        email: &str,
        text: Option<MessageText>,
        client_msg_id: ClientMsgId,
        language: &str,
    ) -> ChatResult<Conversation> {
        let conversation = match self.store.open_conversation_of_visitor(visitor).await? {
            Some(open) => self.to_left_message(open, email).await?,
            None => {
                if text.is_none() {
                    return Err(ChatError::Invalid("invalid_message", "write the message to leave".into()));
                }
                let context = match identity {
                    Some(id) => context.merged_with(id.context.clone()),
                    None => context,
                };
                let (queue_id, _) = self.queue_for(widget, &context, identity, seen, false).await?;
                let visitor_name = context.visitor_name();
                let new = NewConversation {
                    auth_sub: identity.map(|i| i.sub.clone()),
                    auth_iss: identity.map(|i| i.issuer.clone()),
                    org_id: widget.org_id,
                    widget_id: widget.id,
                    visitor_id: visitor,
                    queue_id,
                    proactive: false,
                    invite_id: None,
                    context,
                    reply_email: Some(email.to_owned()),
                    leave_message_at: None,
                    language: language.to_owned(),
                    visitor_name,
                };
                match self.store.create_conversation(new, self.now()).await {
                    Ok(c) => c,
                    // Another tab started a chat at the same moment: the message goes there.
                    Err(StoreError::Conflict(_)) => {
                        let open = self.store.open_conversation_of_visitor(visitor).await?;
                        self.to_left_message(open.ok_or(ChatError::NoOpenConversation)?, email).await?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        tracing::info!(conversation = %conversation.id, visitor = %visitor, "message left for an answer by email");
        let conversation = match text {
            Some(text) => {
                let a = self.send(conversation.id, Sender::visitor(), text, client_msg_id).await?;
                Conversation { last_seq: conversation.last_seq.max(a.message.seq), ..conversation }
            }
            None => conversation,
        };
        self.publish_conversation(&conversation, &[]).await;
        if let Some(queue) = conversation.queue_id {
            // It left the line: the others move up.
            self.positions_changed(queue);
        }
        Ok(conversation)
    }

    /// The visitor rates their chat (ended, answered by an agent): stored, and the agents'
    /// views of the conversation hear of it.
    pub async fn rate(
        &self,
        conversation: ConversationId,
        visitor: VisitorId,
        score: i64,
        comment: Option<&str>,
    ) -> ChatResult<Conversation> {
        if !(1..=5).contains(&score) {
            return Err(ChatError::Invalid("invalid_field", "score: 1 to 5".into()));
        }
        if comment.is_some_and(|c| c.chars().count() > 1_000) {
            return Err(ChatError::Invalid("invalid_field", "comment: at most 1000 characters".into()));
        }
        let rated = self.store.rate_conversation(conversation, visitor, score, comment, self.now()).await?;
        let Some(rated) = rated else {
            // Another visitor's, still open, or never answered: say which, without telling
            // another visitor's conversation apart from a missing one.
            let mine = self.store.conversation(conversation).await?.filter(|c| c.visitor_id == visitor);
            return Err(match mine {
                None => ChatError::NotYours,
                Some(_) => ChatError::Invalid(
                    "not_ratable",
                    "only a chat an agent answered can be rated, once it has ended".into(),
                ),
            });
        };
        tracing::info!(conversation = %conversation, score, "chat rated");
        self.publish_conversation(&rated, &[]).await;
        Ok(rated)
    }

    /// The visitor asks for their chat's transcript by email: queued in the store for the mail
    /// sweep. Their own conversation only, and at most [`TRANSCRIPTS_PER_CHAT`] emails per chat
    /// (an anonymous visitor must not turn the server into a mail cannon).
    pub async fn email_transcript(
        &self,
        conversation: ConversationId,
        visitor: VisitorId,
        email: &str,
        tz: &jiff::tz::TimeZone,
        title: &str,
    ) -> ChatResult<()> {
        let c = self
            .store
            .conversation(conversation)
            .await?
            .filter(|c| c.visitor_id == visitor)
            .ok_or(ChatError::NotYours)?;
        if self.store.mail_count_of_conversation(c.id).await? >= TRANSCRIPTS_PER_CHAT {
            return Err(ChatError::Invalid(
                "too_many_emails",
                format!("at most {TRANSCRIPTS_PER_CHAT} transcripts are emailed per chat"),
            ));
        }
        let messages = self.store.messages_after(c.id, 0, 10_000).await?;
        let (subject, body) = crate::mail::transcript::compose(&c, &messages, tz, title);
        self.store.queue_mail(c.org_id, Some(c.id), email, &subject, &body, self.now()).await?;
        self.deadline_added();
        tracing::info!(conversation = %c.id, "transcript email queued");
        Ok(())
    }

    /// Visitors who waited their queue's `leave_message_after_secs` and still have no agent are
    /// told they may leave a message instead (the widget offers the form beside it); a chat an
    /// agent took, or one already left as a message, is passed over.
    pub async fn leave_message_offers_due(&self, due: Vec<Conversation>) {
        for c in due {
            if c.state != ConversationState::Queued || c.accepted_at.is_some() || c.reply_email.is_some() {
                continue;
            }
            tracing::info!(conversation = %c.id, "no agent yet: the visitor is offered to leave a message");
            let text = say(&c.language, Line::LeaveMessageOffer);
            if let Err(e) = self.system_message(c.id, text, &["leavemessage"]).await {
                tracing::error!(error = %e, conversation = %c.id, "offering to leave a message failed");
            }
        }
    }

    /// The visitor's open conversation, answered by email at `email` from now on: refused once an
    /// agent has it (the visitor writes to them in the chat).
    async fn to_left_message(&self, open: Conversation, email: &str) -> ChatResult<Conversation> {
        if open.agent_id.is_some() {
            return Err(ChatError::Invalid(
                "chat_open",
                "an agent is already in this chat: write to them there".into(),
            ));
        }
        self.store.set_reply_email(open.id, email).await?.ok_or(ChatError::Invalid(
            "chat_open",
            "an agent is already in this chat: write to them there".into(),
        ))
    }

    /// The queue a new chat for `first` goes to, following the queues' fallbacks (at most five
    /// steps, never a queue twice, never out of the organisation): the first that is open with
    /// someone at work (Available or Busy); else the first that is open (the chat waits there);
    /// else `first` (closed: the chat is refused with the time it opens). Returns the chosen
    /// queue's record, so callers need not read it again (`None`: `first` does not exist).
    pub async fn with_fallback(&self, first: QueueId) -> Result<Option<Queue>, StoreError> {
        let now = self.now();
        let mut chain: Vec<(Queue, bool)> = Vec::new(); // (queue, open)
        let mut next = Some(first);
        while let Some(id) = next.take() {
            if chain.len() == 5 || chain.iter().any(|(q, _)| q.id == id) {
                break;
            }
            let Some(queue) = self.store.queue(id).await? else { break };
            if chain.first().is_some_and(|(q, _)| q.org_id != queue.org_id) {
                break;
            }
            let open = queue.hours.as_ref().is_none_or(|h| h.status(now).open);
            if open && (queue.fallback_queue_id.is_none() || self.anyone_available(id).await?) {
                // Open and staffed, or open with nowhere further to go: here.
                return Ok(Some(chosen(first, queue)));
            }
            next = queue.fallback_queue_id;
            chain.push((queue, open));
        }
        let open = chain.iter().position(|(_, open)| *open).unwrap_or(0);
        Ok((open < chain.len()).then(|| chosen(first, chain.swap_remove(open).0)))
    }

    /// A chat that comes from an agent's own invite goes straight to that agent (no offer to
    /// accept, no "waiting for an agent"), as long as they are still of this organisation,
    /// enabled and not offline; `None` leaves it to routing.
    async fn to_inviting_agent(&self, c: &Conversation, agent: AgentId) -> ChatResult<Option<Conversation>> {
        let Some(inviter) = self.store.agent(agent).await?.filter(|a| a.org_id == c.org_id && !a.disabled)
        else {
            return Ok(None);
        };
        if self.effective_presence(inviter.id).await? == Presence::Offline {
            return Ok(None);
        }
        let Some(taken) = self.store.take_conversation(c.id, inviter.id, self.now()).await? else {
            return Ok(None);
        };
        tracing::info!(conversation = %c.id, agent = %inviter.id, "conversation from an agent's invite goes to that agent");
        self.publish_conversation(&taken, &[]).await;
        self.system_message(c.id, say(&c.language, Line::Joined(&inviter.name)), &["agentaccepted"]).await?;
        Ok(Some(taken))
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
            attachment: None,
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
            attachment: None,
        };
        let message = self.store.append_message(new, self.now()).await?.message;
        self.publish(vec![Topic::Conversation(conversation)], Event::Message { message: message.clone() })
            .await;
        Ok(message)
    }

    /// A line only agents read in the conversation (e.g. an answer that could not be mailed).
    pub async fn internal_note(&self, conversation: ConversationId, text: String, tag: &str) {
        if let Err(e) = self.system_message(conversation, text, &[INTERNAL_TAG, tag]).await {
            tracing::error!(error = %e, conversation = %conversation, "writing an internal note failed");
        }
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
        self.store.set_visitor_auth_sub(visitor, &identity.issuer, &identity.sub).await?;
        let Some(open) = self.store.open_conversation_of_visitor(visitor).await? else { return Ok(None) };
        let context = open.context.clone().merged_with(identity.context.clone());
        let updated =
            self.store.authenticate_conversation(open.id, &identity.issuer, &identity.sub, &context).await?;
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
            say(&c.language, Line::VisitorEnded),
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
            say(&c.language, Line::AgentEnded(&agent.name)),
            &["conversationended", "agentended"],
        )
        .await?;
        self.after_close(&c, &closed).await;
        Ok(closed)
    }

    async fn after_close(&self, before: &Conversation, closed: &Conversation) {
        tracing::info!(conversation = %closed.id, state = closed.state.as_str(), "conversation closed");
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
        self.publish_conversation(&accepted, &[]).await;
        self.system_message(
            conversation,
            say(&accepted.language, Line::Joined(&agent.name)),
            &["agentaccepted"],
        )
        .await?;
        // Everyone behind it in line moves up.
        if let Some(q) = accepted.queue_id {
            self.positions_changed(q);
        }
        Ok(accepted)
    }

    /// The agent takes a chat from the waiting list: it is theirs at once, whoever it was
    /// offered to (that offer is withdrawn). Members of the chat's queue may, and admins of its
    /// organisation — also when Away or Busy, and when they declined it before.
    pub async fn take(&self, conversation: ConversationId, agent: &Agent) -> ChatResult<Conversation> {
        let c = self
            .store
            .conversation(conversation)
            .await?
            .filter(|c| c.org_id == agent.org_id)
            .ok_or(ChatError::NotYours)?;
        if !self.serves(agent, c.queue_id).await? {
            return Err(ChatError::NotYours);
        }
        let offered = c.offered_agent_id.filter(|a| *a != agent.id);
        let taken = self
            .store
            .take_conversation(conversation, agent.id, self.now())
            .await?
            .ok_or(ChatError::OfferGone)?;
        tracing::info!(conversation = %conversation, agent = %agent.id, "conversation taken from the waiting list");
        self.publish_conversation(&taken, offered.as_slice()).await;
        self.system_message(
            conversation,
            say(&taken.language, Line::Joined(&agent.name)),
            &["agentaccepted"],
        )
        .await?;
        if let Some(q) = taken.queue_id {
            self.positions_changed(q);
        }
        Ok(taken)
    }

    /// Whether the agent sees (and may take) the waiting chats of `queue`: its members do, and
    /// the organisation's admins see every queue.
    pub async fn serves(&self, agent: &Agent, queue: Option<QueueId>) -> ChatResult<bool> {
        if agent.role == Role::Admin {
            return Ok(true);
        }
        let Some(queue) = queue else { return Ok(false) };
        Ok(self.store.agent_queues(agent.id).await?.contains(&queue))
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
                let target = self
                    .store
                    .agent(a)
                    .await?
                    .filter(|t| t.org_id == agent.org_id && t.id != agent.id && !t.disabled);
                let target =
                    target.ok_or_else(|| ChatError::Invalid("invalid_field", "no such colleague".into()))?;
                if self.effective_presence(target.id).await? == Presence::Offline {
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
                attachment: None,
            };
            let message = self.store.append_message(new, self.now()).await?.message;
            self.publish(vec![Topic::Conversation(conversation)], Event::Message { message }).await;
        }
        let now = self.now();
        let offer = to_agent.map(|a| (a, now.plus_millis(self.offer_timeout_ms)));
        let moved = self
            .store
            .transfer_conversation(conversation, agent.id, queue, offer, now)
            .await?
            .ok_or(ChatError::Closed)?;
        tracing::info!(conversation = %conversation, from = %agent.id, ?to_agent, ?queue, "conversation transferred");
        self.system_message(
            conversation,
            say(&moved.language, Line::Transferring),
            &["agentleft", "transferred"],
        )
        .await?;
        self.publish_conversation(&moved, &[agent.id]).await;
        if to_agent.is_some() {
            self.deadline_added();
        } else if let Some(q) = moved.queue_id {
            self.route_queue(q).await;
        }
        // The transferring agent has a free slot again.
        self.route_agent(agent.id).await;
        Ok(moved)
    }

    /// Tells the agent's open consoles to check their session and role now (sign-out, a
    /// password change, disabling, a new role).
    pub async fn agent_changed(&self, agent: AgentId) {
        self.publish(vec![Topic::Agent(agent)], Event::AgentChanged { agent_id: agent }).await;
    }

    /// A disabled agent's conversations go back to their queues (the visitor is told they are
    /// being transferred) and its offers to other agents.
    pub async fn release_agent(&self, agent: &Agent) {
        self.withdraw_offers_of(agent.id).await;
        let open = match self.store.open_conversations_of_agent(agent.id).await {
            Ok(open) => open,
            Err(e) => return tracing::error!(error = %e, agent = %agent.id, "releasing conversations failed"),
        };
        for c in open.into_iter().filter(|c| c.agent_id == Some(agent.id)) {
            let Some(queue) = c.queue_id else { continue };
            let note = Some(format!("{} was disabled; the chat went back to the queue.", agent.name));
            if let Err(e) = self.transfer(c.id, agent, TransferTarget::Queue(queue), note).await {
                tracing::error!(error = %e, conversation = %c.id, "handing back a disabled agent's chat failed");
            }
        }
    }

    /// The agent declined an offer; it goes to someone else.
    pub async fn decline(&self, conversation: ConversationId, agent: AgentId) -> ChatResult<()> {
        if !self.store.decline_offer(conversation, agent, self.now()).await? {
            return Err(ChatError::OfferGone);
        }
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
        // Where a chat started now would go (the widget's queue, or its fallback).
        let queue = self.with_fallback(queue).await?.map_or(queue, |q| q.id);
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
        let presences = self.presences(&ids).await?;
        let free_agent = agents.iter().any(|a| {
            presences.get(&a.id).is_some_and(|p| p.effective().takes_new_conversations())
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

    /// Whether the visitor is a new one not stored yet (nothing about it can be recorded).
    pub fn is_unstored_visitor(&self, visitor: VisitorId) -> bool {
        self.new_visitors.is_pending(visitor)
    }

    /// Claims the visitor's screen for an invite until `until`, for the whole cluster: false when
    /// another invite holds it. Being invited is worth remembering: a new visitor is stored now.
    pub async fn claim_invite(
        &self,
        visitor: VisitorId,
        invite_id: &str,
        until: Timestamp,
    ) -> ChatResult<bool> {
        let now = self.now();
        self.new_visitors.ensure_stored(self.store.as_ref(), visitor, now).await?;
        Ok(self.store.claim_invite(visitor, invite_id, until, now).await?)
    }

    /// Sends an invite to the visitor's widget (all their tabs) and records it as offered, with
    /// the queue an accepted chat goes to (`None`: the widget's default).
    pub async fn send_invite(
        &self,
        widget: WidgetId,
        visitor: VisitorId,
        invite: Invite,
        queue: Option<QueueId>,
    ) -> ChatResult<()> {
        // Being invited is something worth remembering: a new visitor is stored now.
        self.new_visitors.ensure_stored(self.store.as_ref(), visitor, self.now()).await?;
        let ev = beckon_store::NewInviteEvent {
            widget_id: widget,
            queue_id: queue,
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

    /// Tells everyone concerned that a conversation changed: its participants, its visitor's
    /// tabs, its agent and offered agent, and `also` (e.g. an agent whose offer was withdrawn).
    pub async fn publish_conversation(&self, c: &Conversation, also: &[AgentId]) {
        // The organisation's consoles too: each keeps the waiting list of the queues its agent
        // serves, and checks that on delivery.
        let mut topics = vec![Topic::Conversation(c.id), Topic::Visitor(c.visitor_id), Topic::Org(c.org_id)];
        topics.extend(c.agent_id.iter().chain(&c.offered_agent_id).chain(also).map(|a| Topic::Agent(*a)));
        let agent_name = match c.agent_id {
            Some(a) => self.store.agent(a).await.ok().flatten().map(|a| a.name),
            None => None,
        };
        self.publish(topics, Event::Conversation { conversation: c.clone(), agent_name }).await;
    }

    /// Tells every node of the cluster (this one included).
    pub async fn publish_cluster(&self, event: Event) {
        self.publish(vec![Topic::Cluster], event).await;
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
