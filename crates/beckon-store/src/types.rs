//! Inputs to the store (`New…`) and the few results that are not domain records.

use beckon_domain::message::Message;
use beckon_domain::model::{Role, VisitMeta, WidgetAuth, WidgetSettings};
use beckon_domain::*;

#[derive(Debug, Clone)]
pub struct NewWidget {
    pub org_id: OrgId,
    pub key: WidgetKey,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub default_queue_id: Option<QueueId>,
    pub settings: WidgetSettings,
    pub auth: Option<WidgetAuth>,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub org_id: OrgId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub capacity: u32,
}

/// A visitor to store (see `Store::create_visitor`).
#[derive(Debug, Clone)]
pub struct NewVisitor {
    pub id: VisitorId,
    pub widget_id: WidgetId,
    pub token_hash: String,
    pub arrived_at: Timestamp,
    pub meta: VisitMeta,
    pub first_page: Option<FirstPage>,
}

#[derive(Debug, Clone)]
pub struct FirstPage {
    pub url: String,
    pub title: String,
    pub referrer: String,
}

#[derive(Debug, Clone)]
pub struct NewPageView {
    pub visit_id: VisitId,
    pub visitor_id: VisitorId,
    pub url: String,
    pub title: String,
    pub referrer: String,
}

#[derive(Debug, Clone)]
pub struct NewConversation {
    pub org_id: OrgId,
    pub widget_id: WidgetId,
    pub visitor_id: VisitorId,
    pub queue_id: Option<QueueId>,
    pub proactive: bool,
    pub invite_id: Option<String>,
    pub context: Context,
    /// The verified identity of an authenticated visitor: its `sub`, and the `iss` that vouches
    /// for it.
    pub auth_sub: Option<String>,
    pub auth_iss: Option<String>,
    /// A message left for an answer by email: where the answers go.
    pub reply_email: Option<String>,
    /// When the visitor, still without an agent, is to be offered to leave a message instead.
    pub leave_message_at: Option<Timestamp>,
    /// The widget's language (`en`, `fr`).
    pub language: String,
    /// The name the visitor gave (their pre-chat answer), for History's search (stored
    /// lowercased, so that every backend matches any case the same way).
    pub visitor_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewInviteEvent {
    pub widget_id: WidgetId,
    /// The queue a rule's invite sends the visitor to (recorded with `offered`).
    pub queue_id: Option<QueueId>,
    pub visitor_id: VisitorId,
    pub invite_id: String,
    pub source: String,
    pub outcome: beckon_domain::invite::InviteOutcome,
    pub reason: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteEvent {
    pub visitor_id: VisitorId,
    pub invite_id: String,
    pub source: String,
    pub outcome: beckon_domain::invite::InviteOutcome,
    pub reason: Option<String>,
    pub message: String,
    pub created_at: Timestamp,
}

/// The result of an append: the stored message, and whether it was already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub message: Message,
    pub duplicate: bool,
}

/// Filters for finding past conversations (all optional; combined with AND).
#[derive(Debug, Clone, Default)]
pub struct ConversationSearch {
    pub org_id: Option<OrgId>,
    /// Words that must all appear in the conversation's messages.
    pub text: Option<String>,
    pub visitor_id: Option<VisitorId>,
    /// The authenticated person (`sub`), or a part of the name the visitor gave (any case).
    pub auth_sub: Option<String>,
    pub agent_id: Option<AgentId>,
    pub state: Option<ConversationState>,
    pub created_from: Option<Timestamp>,
    pub created_to: Option<Timestamp>,
    /// Page backwards: conversations with a smaller id.
    pub before_id: Option<ConversationId>,
    pub limit: u32,
}

/// A past or present conversation in a list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationSummary {
    #[serde(flatten)]
    pub conversation: beckon_domain::model::Conversation,
    pub agent_name: Option<String>,
    /// The newest message that is not agent-only, for a preview.
    pub last_message: Option<String>,
}

/// One day of one invite source's funnel (`sdk`, `agent:<id>`, `rule:<id>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteFunnelRow {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub source: String,
    pub offered: i64,
    pub shown: i64,
    pub accepted: i64,
    pub declined: i64,
    pub expired: i64,
    /// Suppressed invites by reason.
    pub suppressed: std::collections::BTreeMap<String, i64>,
    /// Conversations started from an invite of this source that day.
    pub conversations: i64,
    /// …of which an agent accepted.
    pub answered: i64,
}

/// An agent's presence as routing sees it (see `Store::agent_presences`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentPresence {
    /// What the agent chose.
    pub chosen: Presence,
    /// A console is open, or closed within the grace period.
    pub online: bool,
    /// When the agent last got a conversation or became available.
    pub idle_since: Timestamp,
}

impl AgentPresence {
    /// The chosen presence while online, `offline` otherwise.
    pub fn effective(&self) -> Presence {
        if self.online { self.chosen } else { Presence::Offline }
    }
}

/// A conversation answered by email with messages the mail sweep has not dealt with yet.
#[derive(Debug, Clone)]
pub struct MailDue {
    pub conversation: beckon_domain::model::Conversation,
    /// Messages up to this one were mailed already (or had nothing to mail).
    pub mailed_seq: i64,
}

/// An email claimed for sending (see `Store::claim_outgoing_mail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// A rated conversation, for the satisfaction report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    pub conversation_id: ConversationId,
    pub agent_id: Option<AgentId>,
    pub agent_name: Option<String>,
    pub score: i64,
    pub comment: Option<String>,
    pub rated_at: Timestamp,
}

/// A canned reply: typed as `/shortcut` in a chat, it inserts `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannedReply {
    pub id: i64,
    pub org_id: OrgId,
    /// The agent whose own reply it is; `None`: shared by the whole organisation.
    pub agent_id: Option<AgentId>,
    pub shortcut: String,
    pub text: String,
    pub created_at: Timestamp,
}

/// What an append stored, as the store answers it (the message as written, with its `seq`).
pub(crate) fn stored_message(m: &beckon_domain::message::NewMessage, seq: i64, now: Timestamp) -> Message {
    Message {
        conversation_id: m.conversation_id,
        seq,
        sender: m.sender.clone(),
        text: m.text.as_str().to_owned(),
        tags: m.tags.clone(),
        client_msg_id: m.client_msg_id.as_ref().map(|c| c.as_str().to_owned()),
        attachment: m.attachment.clone(),
        created_at: now,
    }
}

/// The `message.attachment` column: the file's description as JSON, or null.
pub(crate) fn attachment_json(m: &beckon_domain::message::NewMessage) -> Option<String> {
    m.attachment.as_ref().map(|a| serde_json::to_string(a).expect("an attachment serialises"))
}

/// The `message.attachment` column read back.
pub(crate) fn attachment_from_json(
    column: Option<String>,
) -> Result<Option<beckon_domain::attachment::Attachment>, crate::StoreError> {
    column
        .map(|a| {
            serde_json::from_str(&a).map_err(|_| crate::StoreError::Corrupt("message.attachment".into()))
        })
        .transpose()
}

/// The `invite_event.outcome` column read back.
pub(crate) fn invite_outcome(
    column: String,
) -> Result<beckon_domain::invite::InviteOutcome, crate::StoreError> {
    beckon_domain::invite::InviteOutcome::parse(&column)
        .ok_or_else(|| crate::StoreError::Corrupt("invite_event.outcome".into()))
}
