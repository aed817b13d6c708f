//! The frames of both WebSockets, as serde-tagged enums (`{"type": "…", …}`); see
//! docs/protocol.md, which documents every one of them. A crate of its own (serde and the domain
//! types only) so the parsers can be fuzzed and reused without the server around them. Incoming frames are parsed in two steps —
//! JSON value, then the typed enum — so a frame with a bad field still yields its `rid` for the
//! error reply.

use beckon_domain::message::Message;
use beckon_domain::model::{Conversation, WidgetSettings};
use beckon_domain::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What `getAvailability()` answers for a widget's visitor (the `availability` frame).
#[derive(Debug, Clone, Default, Serialize)]
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

#[derive(Debug, Deserialize)]
pub struct Page {
    pub url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub referrer: String,
    /// In a reconnecting `hello`: how long the page has been visible and focused so far, as the
    /// widget counted it (the node the widget reconnects to may not have seen it before).
    #[serde(default)]
    pub visible_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorIn {
    Hello {
        widget_id: String,
        visitor_token: Option<String>,
        last_seq: Option<i64>,
        page: Option<Page>,
        /// The widget lost its socket and is back on the same page: `page` is where the visitor
        /// is, not a new page view (not counted again, time on the page not restarted).
        #[serde(default)]
        reconnect: bool,
    },
    PageView(Page),
    StartChat {
        #[serde(default)]
        context: Value,
        #[serde(default)]
        proactive: bool,
        invite_id: Option<String>,
        #[serde(default)]
        prechat: Option<serde_json::Map<String, Value>>,
        /// A JWT from the page's auth token provider (same as a prior `authenticate`).
        auth_token: Option<String>,
        /// The language the widget speaks (`en`, `fr`): the server's own lines in the chat are
        /// in it. Anything else: English.
        #[serde(default)]
        language: Option<String>,
    },
    Authenticate {
        token: String,
    },
    /// The visitor rates their chat once an agent has ended it (or it ended after an agent
    /// answered): 1–5, with an optional comment; a second rating replaces the first.
    Rate {
        conversation_id: ConversationId,
        score: i64,
        #[serde(default)]
        comment: Option<String>,
    },
    /// The visitor asks for the chat's transcript by email (their own chat; a few per chat).
    EmailTranscript {
        conversation_id: ConversationId,
        email: String,
        /// The visitor's IANA time zone for the times (default UTC).
        #[serde(default)]
        tz: Option<String>,
    },
    /// A message for an answer by email, when nobody can chat (the offline form, or a waiting
    /// visitor giving up on a live answer): starts a conversation agents take from the waiting
    /// list, or turns the visitor's waiting one into such.
    LeaveMessage {
        /// The visitor's name (optional); kept as the conversation's `Name`.
        #[serde(default)]
        name: Option<String>,
        /// Where answers are mailed.
        email: String,
        /// The message; may be empty when the waiting chat already holds the visitor's words.
        #[serde(default)]
        text: String,
        /// Makes a retry harmless (the message is stored once).
        client_msg_id: String,
        #[serde(default)]
        context: Value,
        /// Pre-chat answers the visitor gave before the chat was refused: kept.
        #[serde(default)]
        prechat: Option<serde_json::Map<String, Value>>,
        /// As in `start_chat`.
        #[serde(default)]
        language: Option<String>,
    },
    Send {
        client_msg_id: String,
        text: String,
        conversation_id: Option<ConversationId>,
    },
    Typing {
        typing: bool,
    },
    CloseChat,
    Sync {
        after_seq: i64,
    },
    Invite {
        invite_id: String,
        source: String,
        outcome: String,
        reason: Option<String>,
        #[serde(default)]
        message: String,
    },
    GetAvailability,
    Ping,
    /// The page became visible and focused, or stopped being (for time-on-page conditions).
    Activity {
        visible: bool,
    },
    /// The deepest scroll on this page so far, in percent.
    Scroll {
        percent: u8,
    },
    /// The pointer left the document, the tab was hidden, or a fast scroll up on touch devices.
    ExitIntent,
    /// A custom event from the page (`Beckon.track(name, data)`); `data` is accepted and ignored.
    Track {
        name: String,
        #[serde(default)]
        #[allow(dead_code)]
        data: Value,
    },
    /// The page's context provider values, for trigger conditions on context.
    SetContext {
        context: Value,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentIn {
    Presence {
        status: String,
    },
    Accept {
        conversation_id: ConversationId,
    },
    Reject {
        conversation_id: ConversationId,
    },
    /// Takes a chat from the waiting list (whoever it is offered to, if anyone).
    Take {
        conversation_id: ConversationId,
    },
    Send {
        conversation_id: ConversationId,
        client_msg_id: String,
        text: String,
    },
    Typing {
        conversation_id: ConversationId,
        typing: bool,
    },
    End {
        conversation_id: ConversationId,
    },
    Sync {
        conversation_id: ConversationId,
        after_seq: i64,
    },
    /// Hand the conversation to a queue or a colleague, with a note only agents see.
    Transfer {
        conversation_id: ConversationId,
        queue_id: Option<QueueId>,
        agent_id: Option<AgentId>,
        note: Option<String>,
    },
    /// Agent-initiated proactive chat: invite a visitor on the site now.
    Invite {
        visitor_id: VisitorId,
        message: String,
    },
    Ping,
}

/// The `rid` of a frame, if it has one (for replies to frames that are not processed).
pub fn rid_of(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Rid {
        rid: Option<String>,
    }
    serde_json::from_str::<Rid>(text).ok().and_then(|r| r.rid).filter(|r| r.len() <= 64)
}

/// Parses a text frame into `(rid, frame)`; on failure, `(rid, message)` for a `bad_frame` error.
pub fn parse<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<(Option<String>, T), (Option<String>, String)> {
    let value: Value = serde_json::from_str(text).map_err(|e| (None, format!("not valid JSON: {e}")))?;
    let rid = value.get("rid").and_then(|r| r.as_str()).filter(|r| r.len() <= 64).map(str::to_owned);
    if !value.is_object() {
        return Err((rid, "a frame must be a JSON object with a \"type\"".into()));
    }
    match serde_json::from_value(value) {
        Ok(frame) => Ok((rid, frame)),
        Err(e) => Err((rid, e.to_string())),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentRef {
    pub id: AgentId,
    pub name: String,
}

/// A conversation as clients see it.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    pub id: ConversationId,
    pub state: ConversationState,
    pub proactive: bool,
    pub queue_id: Option<QueueId>,
    pub visitor_id: VisitorId,
    pub agent: Option<AgentRef>,
    /// Only in agent frames: whom the conversation is offered to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offered_agent_id: Option<AgentId>,
    /// Only in agent frames: when that offer runs out (Unix ms, server time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_expires_at: Option<Timestamp>,
    pub context: Context,
    pub last_seq: i64,
    /// The authenticated visitor's identity (`sub`), if signed in.
    pub authenticated_as: Option<String>,
    /// A message left for an answer by email: the address answers go to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_email: Option<String>,
    /// The visitor's rating (1–5) and comment, once given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating_comment: Option<String>,
    pub created_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

impl ConversationView {
    pub fn new(c: &Conversation, agent_name: Option<String>, for_agent: bool) -> Self {
        Self {
            id: c.id,
            state: c.state,
            proactive: c.proactive,
            queue_id: c.queue_id,
            visitor_id: c.visitor_id,
            agent: c.agent_id.map(|id| AgentRef { id, name: agent_name.unwrap_or_default() }),
            offered_agent_id: if for_agent { c.offered_agent_id } else { None },
            offer_expires_at: if for_agent { c.offer_expires_at } else { None },
            context: c.context.clone(),
            last_seq: c.last_seq,
            authenticated_as: c.auth_sub.clone(),
            reply_email: c.reply_email.clone(),
            rating: c.rating,
            rating_comment: c.rating_comment.clone(),
            created_at: c.created_at,
            accepted_at: c.accepted_at,
            ended_at: c.ended_at,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct QueueStatus {
    pub open: bool,
    pub opens_at: Option<Timestamp>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentInfo {
    pub id: AgentId,
    pub name: String,
    pub email: String,
    pub role: beckon_domain::model::Role,
    pub capacity: u32,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Out<'a> {
    #[serde(rename = "welcome")]
    VisitorWelcome {
        visitor_token: &'a str,
        visitor_id: VisitorId,
        /// Null until a new visitor is stored (new_visitors.rs).
        visit_id: Option<VisitId>,
        visit_number: i64,
        conversation: Option<ConversationView>,
        widget: &'a WidgetSettings,
        /// Whether the widget's queue is within its operating hours now.
        queue: QueueStatus,
        /// `required`, `optional`, or null when the widget takes no authenticated visitors.
        auth: Option<&'static str>,
        /// Answers to a left message are emailed (an SMTP server is configured); otherwise they
        /// wait in the widget for the visitor to come back.
        mail: bool,
    },
    Authenticated {
        sub: &'a str,
        expires_at: Timestamp,
    },
    #[serde(rename = "welcome")]
    AgentWelcome {
        agent: AgentInfo,
        presence: Presence,
        conversations: Vec<ConversationView>,
        /// The chats waiting in the agent's queues (every queue for an admin), oldest first.
        waiting: Vec<ConversationView>,
        /// Answers to left messages are emailed (an SMTP server is configured).
        mail: bool,
        /// The server's clock now (Unix ms): the console times offers' countdowns by it.
        server_time: Timestamp,
    },
    /// Agents: a chat joined or changed on the waiting list of a queue the agent serves.
    Waiting {
        conversation: ConversationView,
    },
    /// Agents: a chat left the waiting list (taken, accepted, ended).
    WaitingGone {
        conversation_id: ConversationId,
    },
    Chat {
        conversation: ConversationView,
        existing: bool,
    },
    Offer {
        conversation: ConversationView,
    },
    Message {
        message: &'a Message,
    },
    Ack {
        client_msg_id: &'a str,
        conversation_id: ConversationId,
        seq: i64,
        duplicate: bool,
    },
    Typing {
        conversation_id: ConversationId,
        from: SenderKind,
        typing: bool,
    },
    Presence {
        status: Presence,
    },
    /// Agents: another agent of the organisation changed presence.
    AgentPresence {
        agent_id: AgentId,
        status: Presence,
    },
    Availability(&'a Availability),
    Invite(&'a beckon_domain::events::Invite),
    /// Agents: a visitor arrived or changed.
    Visitor {
        visitor: &'a beckon_domain::events::LiveVisitor,
    },
    /// Agents: a visitor's last tab closed.
    VisitorLeft {
        visitor_id: VisitorId,
    },
    /// Agents: reply to `invite`.
    InviteSent {
        invite_id: &'a str,
    },
    Ok,
    Pong,
    Error {
        code: &'a str,
        message: &'a str,
    },
}

impl Out<'_> {
    /// The frame as JSON text, with the request id echoed when there is one.
    pub fn to_text(&self, rid: Option<&str>) -> String {
        let mut v = serde_json::to_value(self).expect("frames serialise");
        if let (Some(rid), Value::Object(map)) = (rid, &mut v) {
            map.insert("rid".into(), Value::String(rid.to_owned()));
        }
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_frames_and_keeps_rid_on_errors() {
        let (rid, f) =
            parse::<VisitorIn>(r#"{"type":"send","rid":"r1","client_msg_id":"c1","text":"hi"}"#).unwrap();
        assert_eq!(rid.as_deref(), Some("r1"));
        assert!(matches!(f, VisitorIn::Send { .. }));
        assert!(matches!(parse::<VisitorIn>(r#"{"type":"ping"}"#).unwrap().1, VisitorIn::Ping));
        let (rid, msg) = parse::<VisitorIn>(r#"{"type":"send","rid":"r2","text":5}"#).unwrap_err();
        assert_eq!(rid.as_deref(), Some("r2"));
        assert!(msg.contains("invalid type") || msg.contains("missing field"), "{msg}");
        let (_, msg) = parse::<VisitorIn>(r#"{"type":"launch_rockets"}"#).unwrap_err();
        assert!(msg.contains("unknown variant"), "{msg}");
        assert!(parse::<VisitorIn>("not json").is_err());
        assert!(parse::<VisitorIn>("[1,2]").is_err());
    }

    #[test]
    fn frames_carry_type_and_rid() {
        let text = Out::Error { code: "bad_frame", message: "x" }.to_text(Some("r9"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["code"].as_str(), v["rid"].as_str()),
            (Some("error"), Some("bad_frame"), Some("r9"))
        );
        let v: Value = serde_json::from_str(&Out::Presence { status: Presence::Away }.to_text(None)).unwrap();
        assert_eq!(v, serde_json::json!({"type": "presence", "status": "away"}));
    }
}
