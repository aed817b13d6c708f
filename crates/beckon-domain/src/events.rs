//! Domain events: what happened, addressed to whoever must hear of it.
//!
//! The server publishes an [`Envelope`] on the bus after each state change has been stored; every
//! node delivers it to its own sockets subscribed to one of the envelope's [`Topic`]s. Events are
//! notifications, never the record of truth: a client that misses one (a dropped socket, a node
//! restart) catches up from the store by sequence number.

use crate::message::Message;
use crate::model::Conversation;
use crate::model::PageView;
use crate::{AgentId, ConversationId, OrgId, Presence, SenderKind, Timestamp, VisitorId, WidgetId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Topic {
    /// Everyone taking part in a conversation (its visitor's tabs, its agent's consoles).
    Conversation(ConversationId),
    /// All of one visitor's tabs.
    Visitor(VisitorId),
    /// All of one agent's consoles.
    Agent(AgentId),
    /// Every agent console of an organisation (queue and presence changes).
    Org(OrgId),
    /// Every node of the cluster (changes to what nodes cache, e.g. trigger rules).
    Cluster,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A message was stored.
    Message { message: Message },
    /// Someone started or stopped typing.
    Typing { conversation_id: ConversationId, from: SenderKind, typing: bool },
    /// A conversation was created or changed state, agent or offer.
    Conversation { conversation: Conversation, agent_name: Option<String> },
    /// An agent's effective presence changed (told to the agent's organisation only).
    Presence { org_id: OrgId, agent_id: AgentId, presence: Presence },
    /// A visitor arrived, moved to another page, started or ended a chat, or was invited.
    VisitorUpdated { visitor: LiveVisitor },
    /// A visitor's last tab closed.
    VisitorLeft { org_id: OrgId, visitor_id: VisitorId },
    /// Show this invite to the visitor (agent-initiated or rule-based).
    Invite { visitor_id: VisitorId, invite: Invite },
    /// An agent's account changed in a way their open consoles must check at once: a session
    /// ended (sign-out, password change, disabling) or their role changed.
    AgentChanged { agent_id: AgentId },
    /// The organisation's trigger rules were replaced: every node reads them again.
    RulesChanged { org_id: OrgId },
    /// Events for this node may have been lost (the cluster bus reconnected or fell behind):
    /// every session refreshes from the store what it shows. Made by a node's hub for its own
    /// sessions; never published.
    Missed,
}

/// An invite the server sends to a visitor's widget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    pub invite_id: String,
    pub message: String,
    /// The message in other languages, by language code (`fr`): the widget shows the one for
    /// its language, else `message`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub translations: std::collections::BTreeMap<String, String>,
    /// Show the pre-chat survey after the visitor accepts.
    pub prechat: bool,
    pub expiry_ms: i64,
    /// `agent:<id>` or `rule:<id>`.
    pub source: String,
}

/// A visitor on the site right now, as agents see them in the live list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveVisitor {
    pub visitor_id: VisitorId,
    pub org_id: OrgId,
    pub widget_id: WidgetId,
    pub page: Option<PageView>,
    /// When the visitor arrived on the current page.
    pub page_since: Timestamp,
    pub visit_number: i64,
    pub visit_started_at: Timestamp,
    pub country: Option<String>,
    pub device: Option<String>,
    pub browser: Option<String>,
    pub authenticated_as: Option<String>,
    /// The name the visitor gave (the open chat's pre-chat answer), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The open conversation, if chatting.
    pub conversation_id: Option<ConversationId>,
    /// The last invite shown or offered, and its outcome so far.
    pub last_invite: Option<InviteStatus>,
    /// Open tabs.
    pub tabs: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteStatus {
    pub invite_id: String,
    pub source: String,
    pub outcome: crate::invite::InviteOutcome,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub topics: Vec<Topic>,
    pub event: Event,
}

impl Envelope {
    pub fn new(topics: impl Into<Vec<Topic>>, event: Event) -> Self {
        Self { topics: topics.into(), event }
    }
}
