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

mod blobs;
mod error;
mod postgres;
mod sqlite;
mod types;

pub use blobs::{Blobs, DirBlobs};
pub use error::StoreError;
pub use postgres::PgStore;
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
    /// Sets (or clears) where the queue's chats go while it is closed or unstaffed.
    async fn set_queue_fallback(&self, id: QueueId, fallback: Option<QueueId>) -> Result<()>;
    /// Sets (or clears) how long a visitor waits without an agent before being offered to leave
    /// a message instead.
    async fn set_queue_leave_message_after(&self, id: QueueId, secs: Option<u32>) -> Result<()>;
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
    /// A visitor's trigger history (JSON) and its version, by the key the trigger runtime chose.
    async fn trigger_history(&self, visitor_key: &str) -> Result<Option<(String, i64)>>;
    /// Compare-and-set: stores the history if the stored version is still `expected` (`None`:
    /// there is none yet), making it `expected + 1`; false (nothing written) otherwise.
    async fn set_trigger_history(
        &self,
        visitor_key: &str,
        history_json: &str,
        expected: Option<i64>,
        now: Timestamp,
    ) -> Result<bool>;
    /// Claims the visitor's screen for an invite until `until`: false when another invite holds
    /// it (claimed, not released, not run out) — whichever node sent that one.
    async fn claim_invite(
        &self,
        visitor: VisitorId,
        invite_id: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool>;
    /// The invite is off the screen (accepted, declined, expired): the claim is released.
    /// `None`: whichever invite holds it (the visitor moved to another page).
    async fn release_invite(&self, visitor: VisitorId, invite_id: Option<&str>) -> Result<()>;
    /// An invite the server sent the visitor, from its `offered` record: the queue a rule's
    /// invite named, and its source (`rule:<id>`, `agent:<id>`).
    async fn offered_invite(
        &self,
        visitor: VisitorId,
        invite_id: &str,
    ) -> Result<Option<(Option<QueueId>, String)>>;
    /// Rule invites offered to the queue at or after `since` (pacing, for the whole cluster).
    async fn rule_invites_since(&self, queue: QueueId, since: Timestamp) -> Result<u32>;
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
    /// The presence the agent chose; becoming `available` makes `now` its idle-since time.
    async fn set_agent_presence(&self, id: AgentId, presence: Presence, now: Timestamp) -> Result<()>;
    async fn add_agent_to_queue(&self, agent: AgentId, queue: QueueId, now: Timestamp) -> Result<()>;
    /// The queue's agents that are not disabled.
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
    /// Until when sign-in with this email (any case) is refused, if it is now.
    async fn sign_in_blocked_until(&self, email: &str, now: Timestamp) -> Result<Option<Timestamp>>;
    /// Counts a failed sign-in for the email, known or not, and returns how many there have been
    /// since the count was last cleared; counts last touched before `forget_before` are dropped.
    async fn record_sign_in_failure(
        &self,
        email: &str,
        forget_before: Timestamp,
        now: Timestamp,
    ) -> Result<u32>;
    /// Refuses sign-in with the email until `until` (after `record_sign_in_failure`).
    async fn block_sign_in(&self, email: &str, until: Timestamp) -> Result<()>;
    /// A successful sign-in: the email's failures are forgotten.
    async fn clear_sign_in_failures(&self, email: &str) -> Result<()>;
    /// Disables (every session of the agent is deleted) or enables an agent; `None` when there
    /// is no such agent.
    async fn set_agent_disabled(&self, id: AgentId, disabled: bool, now: Timestamp) -> Result<Option<Agent>>;
    /// Replaces the agent's password hash and deletes every session of the agent except `keep`
    /// (the token hash of the session that made the change, when it was the agent's own).
    async fn set_agent_password(&self, id: AgentId, password_hash: &str, keep: Option<&str>) -> Result<()>;

    // --- visitors, visits, page views, invites -----------------------------------------
    /// Stores a new visitor with the id it was given when it arrived, its first visit (number 1,
    /// from `arrived_at`, with the browser's facts) and the page it arrived on, in one
    /// transaction. `Conflict` when the id or token is taken.
    async fn create_visitor(&self, v: NewVisitor, now: Timestamp) -> Result<(Visitor, Visit)>;
    async fn visitor_by_token(&self, token_hash: &str) -> Result<Option<Visitor>>;
    /// Records who this visitor is (the verified `sub` of their token).
    async fn set_visitor_auth_sub(&self, visitor: VisitorId, iss: &str, sub: &str) -> Result<()>;
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
    /// Records one step of an invite's life; false (nothing recorded) when this (visitor, invite,
    /// outcome) was already recorded, or when the outcome is final (accepted, declined, expired)
    /// and the invite was never offered or shown, or already has a final outcome — so a client
    /// cannot make up or repeat outcomes to inflate the funnel.
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
    /// Conversations of the queue waiting for an agent and not offered to anyone, oldest first
    /// (live chats only: a message left for an answer by email is taken from the waiting list,
    /// never offered).
    async fn unoffered_waiting(&self, queue: QueueId) -> Result<Vec<Conversation>>;
    /// Every conversation of the queue waiting for an agent (offered or not), oldest first, at
    /// most `limit`: the waiting list agents can take chats from.
    async fn waiting_in_queue(&self, queue: QueueId, limit: u32) -> Result<Vec<Conversation>>;
    /// 1 + the number of the queue's live chats waiting longer than this one; `None` if it is
    /// not waiting (or is a message left for an answer by email).
    async fn queue_position(&self, id: ConversationId) -> Result<Option<i64>>;
    /// Mean time from creation to acceptance of the queue's conversations accepted since `since`.
    async fn average_wait_ms(&self, queue: QueueId, since: Timestamp) -> Result<Option<i64>>;
    /// Offers a waiting, unoffered conversation to `agent` until `expires_at`, atomically with
    /// the check that the agent's active conversations plus pending offers stay below
    /// `capacity` (so two nodes can never both fill an agent's last slot), and makes `now` the
    /// agent's idle-since time. False when any condition does not hold.
    async fn offer_conversation(
        &self,
        id: ConversationId,
        agent: AgentId,
        capacity: u32,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool>;
    /// Clears the offer if it is still `agent`'s; false otherwise.
    async fn withdraw_offer(&self, id: ConversationId, agent: AgentId) -> Result<bool>;
    /// Compare-and-set: waiting (offered to anyone or no one) → active and assigned to `agent`,
    /// an agent taking the chat from the waiting list. `None` when it is no longer waiting.
    async fn take_conversation(
        &self,
        id: ConversationId,
        agent: AgentId,
        now: Timestamp,
    ) -> Result<Option<Conversation>>;
    /// Compare-and-set: waiting and offered to `agent` → active and assigned to `agent`.
    /// `None` when the offer is gone (withdrawn, taken, or the conversation ended).
    async fn accept_conversation(
        &self,
        id: ConversationId,
        agent: AgentId,
        now: Timestamp,
    ) -> Result<Option<Conversation>>;
    /// Active and assigned to `from` → `transferred`, waiting in `queue`, offered to `to_agent`
    /// (until `offer_expires_at`) if given; `None` if it is not `from`'s active conversation.
    /// Earlier declines are forgotten, and the transferring agent counts as having declined it
    /// (it is not offered back to them).
    async fn transfer_conversation(
        &self,
        id: ConversationId,
        from: AgentId,
        queue: Option<QueueId>,
        to_agent: Option<(AgentId, Timestamp)>,
        now: Timestamp,
    ) -> Result<Option<Conversation>>;
    /// The agent declines its offer: the offer is cleared and the agent is not offered the
    /// conversation again. False when it was not (or no longer) offered to the agent.
    async fn decline_offer(&self, id: ConversationId, agent: AgentId, now: Timestamp) -> Result<bool>;
    /// Agents who declined the conversation or let an offer of it expire.
    async fn declined_agents(&self, id: ConversationId) -> Result<Vec<AgentId>>;
    /// Takes back every offer whose deadline is at or before `now`, each counting as declined by
    /// its agent, and returns them (conversation as it is now, the agent it was offered to).
    /// Each is returned to exactly one caller, whichever node asks.
    async fn expire_offers(&self, now: Timestamp) -> Result<Vec<(Conversation, AgentId)>>;
    /// Records that the waiting visitor is told `position`: `None` when that was already the last
    /// position announced (so each change is announced once, by one node), else whether it is the
    /// first announcement.
    async fn set_announced_position(&self, id: ConversationId, position: i64) -> Result<Option<bool>>;

    // --- nodes and agent consoles (presence for the whole cluster) ------------------------
    /// The nodes whose lease runs past `now`.
    async fn live_nodes(&self, now: Timestamp) -> Result<Vec<String>>;
    /// The node is alive until `expires_at` (created on first call).
    async fn node_heartbeat(&self, node: &str, expires_at: Timestamp, now: Timestamp) -> Result<()>;
    /// Nodes whose lease ran out before `now` are dead: their open consoles are closed as of
    /// their lease's end, and the nodes are forgotten. Returns the dead nodes.
    async fn expire_nodes(&self, now: Timestamp) -> Result<Vec<String>>;
    /// A node stops cleanly: it is forgotten and its open consoles closed at `now`.
    async fn node_stopped(&self, node: &str, now: Timestamp) -> Result<()>;
    async fn open_console(&self, console: &str, agent: AgentId, node: &str, now: Timestamp) -> Result<()>;
    async fn close_console(&self, console: &str, now: Timestamp) -> Result<()>;
    /// Deletes consoles closed at or before `closed_before` (their grace period is over) and
    /// returns their agents, once each.
    async fn drop_closed_consoles(&self, closed_before: Timestamp) -> Result<Vec<AgentId>>;
    /// For each agent: the presence it chose, whether it counts as online (an open console, or
    /// one closed after `lingering_after`), and since when it has been idle.
    async fn agent_presences(
        &self,
        agents: &[AgentId],
        lingering_after: Timestamp,
    ) -> Result<HashMap<AgentId, AgentPresence>>;
    /// The earliest stored deadline any node's sweeper must act on: an offer's expiry, another
    /// node's lease end, a closed console's end of grace (`grace_ms` after it closed).
    /// Also when a waiting visitor is due to be offered to leave a message. With `mail`, also
    /// the mail sweep's: now when a left message has an unmailed message and
    /// no node sending it, else the end of the sending node's lease.
    async fn next_deadline(&self, grace_ms: i64, mail: bool) -> Result<Option<Timestamp>>;

    // --- messages left for an answer by email ------------------------------------------------
    /// Turns a waiting conversation nobody has taken into a message answered by email at
    /// `email` (messages so far count as mailed). `None` when it is not waiting or an agent has
    /// it.
    async fn set_reply_email(&self, id: ConversationId, email: &str) -> Result<Option<Conversation>>;
    /// Claims, for this node until `lease_until`, up to `limit` conversations answered by email
    /// with messages not dealt with yet and no other node's lease; each with its `mailed_seq`.
    async fn claim_mail(&self, now: Timestamp, lease_until: Timestamp, limit: u32) -> Result<Vec<MailDue>>;
    /// The messages up to `through_seq` are dealt with (mailed, or nothing to mail); the lease
    /// ends.
    async fn mail_done(&self, id: ConversationId, through_seq: i64) -> Result<()>;
    /// Takes (once, whichever node asks first) the conversations whose offer to leave a message
    /// is due at `now`, clearing it; the caller checks they are still waiting without an agent.
    async fn take_due_leave_message_offers(&self, now: Timestamp) -> Result<Vec<Conversation>>;
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
        iss: &str,
        sub: &str,
        context: &Context,
    ) -> Result<Option<Conversation>>;
    /// Conversations of an authenticated person (issuer and subject) in an organisation, newest
    /// first.
    async fn conversations_of_identity(
        &self,
        org: OrgId,
        iss: Option<&str>,
        sub: &str,
        limit: u32,
    ) -> Result<Vec<Conversation>>;
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
    // --- emails waiting to go out ------------------------------------------------------------
    /// Stores an email to send as soon as a sweeper can.
    async fn queue_mail(
        &self,
        org: OrgId,
        conversation: Option<ConversationId>,
        to: &str,
        subject: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<i64>;
    /// How many emails were ever queued about the conversation (sent, waiting or refused).
    async fn mail_count_of_conversation(&self, conversation: ConversationId) -> Result<i64>;
    /// Claims up to `limit` emails due at `now` for this node until `lease_until`.
    async fn claim_outgoing_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutgoingMail>>;
    /// The email went (`error` none) or was refused for good: it is not tried again.
    async fn outgoing_mail_done(&self, id: i64, now: Timestamp, error: Option<&str>) -> Result<()>;

    // --- ratings (CSAT) -----------------------------------------------------------------------
    /// Records the visitor's rating of their conversation — ended, and answered by an agent —
    /// replacing an earlier one; `None` when it is not theirs, not ended or never answered.
    async fn rate_conversation(
        &self,
        id: ConversationId,
        visitor: VisitorId,
        score: i64,
        comment: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<Conversation>>;
    /// The organisation's ratings given since `since`, newest first, at most `limit`.
    async fn ratings(&self, org: OrgId, since: Timestamp, limit: u32) -> Result<Vec<Rating>>;

    // --- canned replies ----------------------------------------------------------------------
    /// The organisation's shared replies and the agent's own, by shortcut.
    async fn canned_replies(&self, org: OrgId, agent: AgentId) -> Result<Vec<CannedReply>>;
    /// How many replies the owner has (the organisation's shared ones for `None`).
    async fn count_canned_replies(&self, org: OrgId, owner: Option<AgentId>) -> Result<i64>;
    async fn canned_reply(&self, id: i64) -> Result<Option<CannedReply>>;
    /// `Conflict` when the owner already has the shortcut.
    async fn create_canned_reply(
        &self,
        org: OrgId,
        owner: Option<AgentId>,
        shortcut: &str,
        text: &str,
        now: Timestamp,
    ) -> Result<CannedReply>;
    /// `None` when there is no such reply; `Conflict` when the owner already has the shortcut.
    async fn update_canned_reply(&self, id: i64, shortcut: &str, text: &str) -> Result<Option<CannedReply>>;
    /// False when there was no such reply.
    async fn delete_canned_reply(&self, id: i64) -> Result<bool>;

    /// The invite a proactive conversation came from: `(invite_id, source, message)`, when known.
    async fn conversation_invite(&self, id: ConversationId) -> Result<Option<(String, String, String)>>;

    // --- attachments --------------------------------------------------------------------
    /// Keeps a file sent in `conversation` by a `sender` of that kind: its bytes (in the
    /// backend's [`Blobs`]) first, then its record. The message that carries it is appended
    /// afterwards, like any other (a file whose message never made it is unreachable: nobody is
    /// told its id).
    async fn add_attachment(
        &self,
        conversation: ConversationId,
        sender: SenderKind,
        attachment: &beckon_domain::attachment::Attachment,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<()>;
    /// A file's record: the conversation it was sent in, and its description.
    async fn attachment(
        &self,
        id: &str,
    ) -> Result<Option<(ConversationId, beckon_domain::attachment::Attachment)>>;
    /// A file's bytes.
    async fn attachment_bytes(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// How many files senders of this kind sent in a conversation (for its bound).
    async fn attachment_count(&self, conversation: ConversationId, sender: SenderKind) -> Result<u64>;
}

/// Opens the store a database URL names, creating and migrating it if needed.
/// `sqlite://path/to/file.db` (or a bare path ending in `.db`) → SQLite;
/// `postgres://user:password@host:port/database` (or `postgresql://`) → PostgreSQL.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") || url.ends_with(".db") || url.ends_with(".sqlite") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::Unsupported(format!(
            "unrecognised database URL {:?}; expected sqlite://FILE or postgres://HOST/DATABASE",
            redacted(url)
        )))
    }
}

/// A database URL fit for logs and error messages: its password, if any, replaced by `***`
/// (`postgres://beckon:secret@db/beckon` → `postgres://beckon:***@db/beckon`).
pub fn redacted(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let rest = &url[scheme_end..];
    // The user information ends at the last `@` of the authority (a password may contain `@`
    // only percent-encoded, but be generous); the authority ends at the first `/`, `?` or `#`
    // after it.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else { return url.to_owned() };
    let Some(colon) = authority[..at].find(':') else { return url.to_owned() };
    format!("{}{}:***{}", &url[..scheme_end], &authority[..colon], &rest[at..])
}

#[cfg(test)]
mod redaction_tests {
    use super::redacted;

    #[test]
    fn passwords_are_hidden_and_nothing_else_changes() {
        assert_eq!(
            redacted("postgres://beckon:s3cret@db:5432/beckon"),
            "postgres://beckon:***@db:5432/beckon"
        );
        assert_eq!(
            redacted("postgres://u:p%40ss@h/d?sslmode=require"),
            "postgres://u:***@h/d?sslmode=require"
        );
        assert_eq!(redacted("postgres://postgres@127.0.0.1:5432/x"), "postgres://postgres@127.0.0.1:5432/x");
        assert_eq!(redacted("sqlite://beckon.db"), "sqlite://beckon.db");
        assert_eq!(redacted("beckon.db"), "beckon.db");
        assert_eq!(redacted("postgres://h/d?user=a@b"), "postgres://h/d?user=a@b");
    }
}
