//! Chat messages: who sent them, what they say, and the rules their fields obey.
//!
//! Every stored message carries a per-conversation sequence number (`seq`, 1, 2, 3…) assigned by
//! the store at write time; clients resume by sending the last `seq` they hold. A message sent by
//! a visitor or an agent also carries the sender's `client_msg_id`, which makes a retry of the same
//! send idempotent: the store returns the message already written instead of writing it twice.

use crate::attachment::Attachment;
use crate::{AgentId, ConversationId, Timestamp};
use serde::{Deserialize, Serialize};

/// Longest chat message, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest client message id, in bytes.
pub const MAX_CLIENT_MSG_ID: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageText(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("a message must not be empty")]
    Empty,
    #[error("a message is {0} characters long; at most {MAX_TEXT_CHARS} are allowed")]
    TooLong(usize),
    #[error("client_msg_id must be 1–{MAX_CLIENT_MSG_ID} visible ASCII characters")]
    BadClientMsgId,
}

impl MessageText {
    pub fn parse(s: &str) -> Result<Self, MessageError> {
        if s.trim().is_empty() {
            return Err(MessageError::Empty);
        }
        let n = s.chars().count();
        if n > MAX_TEXT_CHARS {
            return Err(MessageError::TooLong(n));
        }
        Ok(Self(s.to_owned()))
    }
    /// For text the server itself writes (system messages); not for user input.
    pub fn system(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    pub fn parse(s: &str) -> Result<Self, MessageError> {
        let ok = !s.is_empty() && s.len() <= MAX_CLIENT_MSG_ID && s.bytes().all(|b| b.is_ascii_graphic());
        if ok { Ok(Self(s.to_owned())) } else { Err(MessageError::BadClientMsgId) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SenderKind {
    Visitor,
    Agent,
    System,
}

impl SenderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SenderKind::Visitor => "visitor",
            SenderKind::Agent => "agent",
            SenderKind::System => "system",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "visitor" => SenderKind::Visitor,
            "agent" => SenderKind::Agent,
            "system" => SenderKind::System,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sender {
    pub kind: SenderKind,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub agent_id: Option<AgentId>,
    /// Display name (the agent's name); shown as text, never as HTML.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
}

impl Sender {
    pub fn visitor() -> Self {
        Self { kind: SenderKind::Visitor, agent_id: None, name: None }
    }
    pub fn system() -> Self {
        Self { kind: SenderKind::System, agent_id: None, name: None }
    }
    pub fn agent(id: AgentId, name: impl Into<String>) -> Self {
        Self { kind: SenderKind::Agent, agent_id: Some(id), name: Some(name.into()) }
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub sender: Sender,
    pub text: String,
    /// Machine-readable labels on system messages (`agentaccepted`, `queueposition`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    /// A file sent with the message (its `text` is then the file's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    pub created_at: Timestamp,
}

/// Tag of messages only agents see (e.g. a transfer note); never sent to the visitor.
pub const INTERNAL_TAG: &str = "internal";

impl Message {
    pub fn is_internal(&self) -> bool {
        self.tags.iter().any(|t| t == INTERNAL_TAG)
    }

    /// The message as plain text (transcripts, emails): its words, or for a file its name and
    /// size (`📎 invoice.pdf (24 KB)`).
    pub fn plain_text(&self) -> String {
        match &self.attachment {
            Some(a) => format!("\u{1f4ce} {} ({})", a.name, crate::attachment::human_size(a.size)),
            None => self.text.clone(),
        }
    }
}

/// What a caller asks the store to append; the store assigns `seq` and `created_at`.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: ConversationId,
    pub sender: Sender,
    pub text: MessageText,
    pub tags: Vec<String>,
    pub client_msg_id: Option<ClientMsgId>,
    pub attachment: Option<Attachment>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert_eq!(MessageText::parse("  \n"), Err(MessageError::Empty));
        assert!(MessageText::parse(&"é".repeat(MAX_TEXT_CHARS)).is_ok());
        assert_eq!(
            MessageText::parse(&"a".repeat(MAX_TEXT_CHARS + 1)),
            Err(MessageError::TooLong(MAX_TEXT_CHARS + 1))
        );
        // Markup is just text; rendering it as text is the client's job.
        assert_eq!(MessageText::parse("<b>hi</b>").unwrap().as_str(), "<b>hi</b>");
    }

    #[test]
    fn client_msg_id_rules() {
        assert!(ClientMsgId::parse("c-1f3a").is_ok());
        assert!(ClientMsgId::parse("").is_err());
        assert!(ClientMsgId::parse("has space").is_err());
        assert!(ClientMsgId::parse(&"x".repeat(65)).is_err());
    }
}
