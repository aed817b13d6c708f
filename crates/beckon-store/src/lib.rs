//! Beckon's storage: one [`Store`] trait, backends chosen by database URL.
//!
//! The server only ever talks to `Arc<dyn Store>`, so SQLite (the default, one file, nothing to
//! install) and PostgreSQL (for several nodes) are interchangeable, and one conformance suite
//! (`tests/conformance.rs`) holds every backend to the same behaviour.
//!
//! What every backend must guarantee:
//! - `append_message` returns only after the message is durably committed, assigns the next
//!   per-conversation `seq` without gaps or repeats, and is idempotent on `client_msg_id`.
//!   Visitor and agent messages go only to open conversations, agent messages only to the
//!   agent's own (`ConversationClosed` / `NotAssigned`); system messages always go in.
//! - At most one open conversation per visitor; a conversation is accepted by at most one agent
//!   (`accept_conversation` is a compare-and-set on the offer).

mod error;
mod sqlite;
mod types;

pub use error::StoreError;
pub use sqlite::SqliteStore;
pub use types::*;

use async_trait::async_trait;
use beckon_domain::message::{Message, NewMessage};
use beckon_domain::model::{
    Agent, Conversation, Org, PageView, Queue, Visit, VisitMeta, Visitor, VisitorSummary, Widget, WidgetAuth,
};
use beckon_domain::*;
use std::collections::HashMap;
use std::sync::Arc;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database does (health checks).
    async fn ping(&self) -> Result<()>;

    // --- organisations, queues, widgets -------------------------------------------------
    async fn create_org(&self, name: &str, now: Timestamp) -> Result<Org>;
    async fn create_queue(&self, org: OrgId, name: &str, now: Timestamp) -> Result<Queue>;
    async fn queue(&self, id: QueueId) -> Result<Option<Queue>>;
    async fn set_queue_hours(
        &self,
        id: QueueId,
        hours: Option<&beckon_domain::hours::OperatingHours>,
    ) -> Result<()>;
    /// The organisation's routing rules, in order (empty when none were set).
    async fn routing_rules(&self, org: OrgId) -> Result<Vec<beckon_domain::routing::RoutingRule>>;
    async fn set_routing_rules(
        &self,
        org: OrgId,
        rules: &[beckon_domain::routing::RoutingRule],
        now: Timestamp,
    ) -> Result<()>;
    /// The organisation's trigger rules as stored (a JSON array), `None` when never set.
    async fn trigger_rules(&self, org: OrgId) -> Result<Option<String>>;
    async fn set_trigger_rules(&self, org: OrgId, rules_json: &str, now: Timestamp) -> Result<()>;
    /// A visitor's trigger history (JSON), by the key the trigger runtime chose.
    async fn trigger_history(&self, visitor_key: &str) -> Result<Option<String>>;
    async fn set_trigger_history(&self, visitor_key: &str, history_json: &str, now: Timestamp) -> Result<()>;
    /// (views of `url` by the visitor, all their page views), across visits.
    async fn page_view_counts(&self, visitor: VisitorId, url: &str) -> Result<(u32, u32)>;
    /// Replaces the agent's queues.
    async fn set_agent_queues(&self, agent: AgentId, queues: &[QueueId], now: Timestamp) -> Result<()>;
    async fn create_widget(&self, w: NewWidget, now: Timestamp) -> Result<Widget>;
    async fn widget(&self, id: WidgetId) -> Result<Option<Widget>>;
    async fn widget_by_key(&self, key: &WidgetKey) -> Result<Option<Widget>>;
    async fn set_widget_auth(&self, widget: WidgetId, auth: Option<&WidgetAuth>) -> Result<()>;

    // --- agents and their sessions ------------------------------------------------------
    /// Fails with `Conflict` when the email is taken.
    async fn create_agent(&self, a: NewAgent, now: Timestamp) -> Result<Agent>;
    async fn agent(&self, id: AgentId) -> Result<Option<Agent>>;
    /// The agent and its password hash, for sign-in. `email` is matched case-insensitively.
    async fn agent_credentials(&self, email: &str) -> Result<Option<(Agent, String)>>;
    async fn set_agent_presence(&self, id: AgentId, presence: Presence) -> Result<()>;
    async fn add_agent_to_queue(&self, agent: AgentId, queue: QueueId, now: Timestamp) -> Result<()>;
    async fn queue_agents(&self, queue: QueueId) -> Result<Vec<Agent>>;
    async fn agent_queues(&self, agent: AgentId) -> Result<Vec<QueueId>>;
    async fn create_agent_session(
        &self,
        token_hash: &str,
        agent: AgentId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<()>;
    /// The agent of an unexpired session.
    async fn agent_for_session(&self, token_hash: &str, now: Timestamp) -> Result<Option<Agent>>;
    async fn delete_agent_session(&self, token_hash: &str) -> Result<()>;

    // --- visitors, visits, page views, invites -----------------------------------------
    async fn create_visitor(&self, widget: WidgetId, token_hash: &str, now: Timestamp) -> Result<Visitor>;
    async fn visitor_by_token(&self, token_hash: &str) -> Result<Option<Visitor>>;
    /// Records who this visitor is (the verified `sub` of their token).
    async fn set_visitor_auth_sub(&self, visitor: VisitorId, sub: &str) -> Result<()>;
    /// The visitor's current visit, or a new one when the last activity is older than
    /// `inactivity_ms` (or there is none). Marks the visit and visitor as active at `now`.
    async fn touch_visit(&self, visitor: VisitorId, inactivity_ms: i64, now: Timestamp) -> Result<Visit>;
    async fn record_page_view(&self, pv: NewPageView, now: Timestamp) -> Result<()>;
    /// Records what the browser said about itself for this visit (latest wins).
    async fn set_visit_meta(&self, visit: VisitId, meta: &VisitMeta) -> Result<()>;
    /// The visitor's most recent visit.
    async fn latest_visit(&self, visitor: VisitorId) -> Result<Option<Visit>>;
    /// Pages viewed in a visit, oldest first (at most `limit`, the most recent ones).
    async fn page_views(&self, visit: VisitId, limit: u32) -> Result<Vec<PageView>>;
    async fn visitor_summary(&self, visitor: VisitorId) -> Result<Option<VisitorSummary>>;
    /// The visitor's conversations, newest first.
    async fn conversations_of_visitor(&self, visitor: VisitorId, limit: u32) -> Result<Vec<Conversation>>;
    /// Returns false when this (visitor, invite, outcome) was already recorded.
    async fn record_invite_event(&self, ev: NewInviteEvent, now: Timestamp) -> Result<bool>;
    async fn invite_events(&self, widget: WidgetId) -> Result<Vec<InviteEvent>>;
    /// The invite funnel of an organisation's widgets between two times, per UTC day and source.
    async fn invite_funnel(&self, org: OrgId, from: Timestamp, to: Timestamp)
    -> Result<Vec<InviteFunnelRow>>;

    // --- conversations -------------------------------------------------------------------
    /// Fails with `Conflict` when the visitor already has an open conversation.
    async fn create_conversation(&self, c: NewConversation, now: Timestamp) -> Result<Conversation>;
    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>>;
    async fn open_conversation_of_visitor(&self, visitor: VisitorId) -> Result<Option<Conversation>>;
    /// Open conversations assigned or offered to the agent, oldest first.
    async fn open_conversations_of_agent(&self, agent: AgentId) -> Result<Vec<Conversation>>;
    /// Conversations of the queue waiting for an agent and not offered to anyone, oldest first.
    async fn unoffered_waiting(&self, queue: QueueId) -> Result<Vec<Conversation>>;
    /// 1 + the number of the queue's conversations waiting longer than this one; `None` if it
    /// is not waiting.
    async fn queue_position(&self, id: ConversationId) -> Result<Option<i64>>;
    /// Mean time from creation to acceptance of the queue's conversations accepted since `since`.
    async fn average_wait_ms(&self, queue: QueueId, since: Timestamp) -> Result<Option<i64>>;
    /// Sets the offer if the conversation is waiting and not offered; false otherwise.
    async fn offer_conversation(&self, id: ConversationId, agent: AgentId) -> Result<bool>;
    /// Clears the offer if it is still `agent`'s; false otherwise.
    async fn withdraw_offer(&self, id: ConversationId, agent: AgentId) -> Result<bool>;
    /// Compare-and-set: waiting and offered to `agent` → active and assigned to `agent`.
    /// `None` when the offer is gone (withdrawn, taken, or the conversation ended).
    async fn accept_conversation(
        &self,
        id: ConversationId,
        agent: AgentId,
        now: Timestamp,
    ) -> Result<Option<Conversation>>;
    /// Active and assigned to `from` → `transferred`, waiting in `queue`, offered to `to_agent`
    /// if given; `None` if it is not `from`'s active conversation.
    async fn transfer_conversation(
        &self,
        id: ConversationId,
        from: AgentId,
        queue: Option<QueueId>,
        to_agent: Option<AgentId>,
    ) -> Result<Option<Conversation>>;
    async fn agents_of_org(&self, org: OrgId) -> Result<Vec<Agent>>;
    async fn queues_of_org(&self, org: OrgId) -> Result<Vec<Queue>>;
    /// Moves an open conversation to `ended` or `abandoned`; `None` if it was not open.
    async fn close_conversation(
        &self,
        id: ConversationId,
        to: ConversationState,
        now: Timestamp,
    ) -> Result<Option<Conversation>>;
    /// Marks an open conversation as the authenticated person's, with its merged context.
    async fn authenticate_conversation(
        &self,
        id: ConversationId,
        sub: &str,
        context: &Context,
    ) -> Result<Option<Conversation>>;
    /// Conversations of an authenticated person in an organisation, newest first.
    async fn conversations_of_identity(&self, org: OrgId, sub: &str, limit: u32)
    -> Result<Vec<Conversation>>;
    /// Conversations matching the filters, newest first.
    async fn search_conversations(&self, q: &ConversationSearch) -> Result<Vec<ConversationSummary>>;
    /// Active conversations plus pending offers, per agent (agents with none are absent).
    async fn agent_loads(&self, agents: &[AgentId]) -> Result<HashMap<AgentId, u32>>;

    // --- messages --------------------------------------------------------------------------
    /// Durably appends (see the crate docs for the guarantees).
    async fn append_message(&self, m: NewMessage, now: Timestamp) -> Result<Appended>;
    /// Messages with `seq > after_seq`, in order, at most `limit`.
    async fn messages_after(&self, c: ConversationId, after_seq: i64, limit: u32) -> Result<Vec<Message>>;

    // --- administration: agents and widgets ---------------------------------------------
    /// The organisation's widgets, oldest first.
    async fn widgets_of_org(&self, org: OrgId) -> Result<Vec<Widget>>;
    /// Replaces what an admin may edit of a widget; `None` when there is no such widget.
    async fn update_widget(
        &self,
        id: WidgetId,
        name: &str,
        allowed_origins: &[String],
        default_queue_id: Option<QueueId>,
        settings: &beckon_domain::model::WidgetSettings,
    ) -> Result<Option<Widget>>;
    /// Changes an agent's name, role and capacity; `None` when there is no such agent.
    async fn update_agent(
        &self,
        id: AgentId,
        name: &str,
        role: beckon_domain::model::Role,
        capacity: u32,
    ) -> Result<Option<Agent>>;
    /// The invite a proactive conversation came from: `(invite_id, source, message)`, when known.
    async fn conversation_invite(&self, id: ConversationId) -> Result<Option<(String, String, String)>>;
}

/// Opens the store a database URL names, creating and migrating it if needed.
/// `sqlite://path/to/file.db` (or a bare path ending in `.db`) → SQLite.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") || url.ends_with(".db") || url.ends_with(".sqlite") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Err(StoreError::Unsupported("PostgreSQL support is not built yet; use a sqlite:// URL".into()))
    } else {
        Err(StoreError::Unsupported(format!("unrecognised database URL {url:?}; expected sqlite://FILE")))
    }
}
