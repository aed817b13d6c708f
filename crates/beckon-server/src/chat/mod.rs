//! Conversations: starting, messaging, typing, accepting, transferring, ending.
//!
//! Both gateways (visitor and agent sockets) and the HTTP API call into [`Chat`]; it checks the
//! rules, writes to the store, and only then publishes events on the bus, so an event always
//! describes something already durable. Every decision that several nodes could make at once is
//! settled in the store (sequence numbers, one open conversation per visitor, capacity-checked
//! offers, accepting an offer), so any node may serve any request.
//!
//! One concern per file, each an `impl Chat` block: `start.rs` (a new chat and the queue it goes
//! to), `messages.rs` (messages and typing), `files.rs` (files sent in a chat), `assignment.rs`
//! (accept, take, decline, transfer), `ending.rs` (closing, rating, transcripts by email),
//! `left_messages.rs` (answers by email), `invites.rs`, `availability.rs` (can a queue take a
//! chat now), `routing.rs` (who is offered what, and place-in-line news), `presence.rs`, and
//! `lines.rs` (the server's own lines, in the chat's language). This file holds the service,
//! its errors, and publishing.

mod assignment;
mod availability;
mod ending;
mod files;
mod invites;
mod left_messages;
mod lines;
mod messages;
mod presence;
mod routing;
mod start;

pub use availability::QueueCapacity;
pub use files::FileRefusal;
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

    pub(super) fn now(&self) -> Timestamp {
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
    pub(super) fn deadline_added(&self) {
        self.deadlines.notify_one();
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

    pub(super) async fn publish(&self, topics: Vec<Topic>, event: Event) {
        if let Err(e) = self.bus.publish(Envelope::new(topics, event)).await {
            // Stored state is intact; clients catch up by sequence number when they reconnect.
            tracing::error!(error = %e, "publishing an event failed");
        }
    }
}
