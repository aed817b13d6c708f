//! The records Beckon keeps: organisations, widgets, queues, agents, visitors, visits and
//! conversations. Plain data shared by the store (which persists them), the server (which acts
//! on them) and the bus (which carries them between nodes).

use crate::{
    AgentId, Context, ConversationId, ConversationState, OrgId, Presence, QueueId, Timestamp, VisitId,
    VisitorId, WidgetId, WidgetKey,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widget {
    pub id: WidgetId,
    pub org_id: OrgId,
    pub key: WidgetKey,
    pub name: String,
    /// Origins (`https://shop.example`) whose pages may embed the widget; `*` allows any.
    pub allowed_origins: Vec<String>,
    /// Where new conversations from this widget go until routing rules say otherwise.
    pub default_queue_id: Option<QueueId>,
    pub settings: WidgetSettings,
    /// Visitor authentication (JWT from the host site); `None`: anonymous visitors only.
    pub auth: Option<WidgetAuth>,
    pub created_at: Timestamp,
}

/// How a widget verifies the JSON Web Tokens a host site issues for its signed-in visitors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetAuth {
    /// A visitor must be authenticated to chat (otherwise authentication is optional).
    #[serde(default)]
    pub required: bool,
    /// Accepted `iss` values (at least one).
    pub issuers: Vec<String>,
    /// Required `aud` value, if any.
    #[serde(default)]
    pub audience: Option<String>,
    /// Allowed clock difference with the token issuer, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u32,
    /// Public keys (PEM, RSA for RS256 or P-256 for ES256), each with the `kid` tokens name.
    #[serde(default)]
    pub keys: Vec<PublicKey>,
    /// A JWKS document to fetch keys from (cached; refetched, at a bounded rate, on an unknown `kid`).
    #[serde(default)]
    pub jwks_url: Option<String>,
}

fn default_leeway() -> u32 {
    60
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    pub kid: String,
    pub pem: String,
}

/// How a widget looks and behaves on the page; sent to the widget in `welcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WidgetSettings {
    pub color: String,
    pub font_family: Option<String>,
    /// Title of the chat window.
    pub title: String,
    /// First line the visitor reads in an empty chat window.
    pub greeting: String,
    /// How long an invite stays on screen before it expires.
    pub invite_expiry_ms: i64,
    /// Outside the queue's operating hours: `message` (show `offline_message`) or `hide` (no
    /// launcher at all).
    pub out_of_hours: String,
    pub offline_message: String,
    pub prechat: Vec<PrechatQuestion>,
    /// The language of the widget's own words (buttons, status lines, errors): `auto` (the
    /// page's `lang`, else the visitor's browser) or one of [`LANGUAGES`].
    pub language: String,
    /// The texts above in other languages, by language code: shown to visitors whose widget
    /// speaks that language (what is missing falls back to the texts above).
    pub translations: std::collections::BTreeMap<String, WidgetTexts>,
}

fn english() -> String {
    "en".into()
}

/// The languages the widget speaks (its own words; admins' texts may be in any of them).
pub const LANGUAGES: [&str; 2] = ["en", "fr"];

/// An admin's widget texts in one language.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct WidgetTexts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_message: Option<String>,
    /// Pre-chat questions by their `id`: the label (and the choices, in the same order) in this
    /// language. Answers are stored under the question's own label and choice, so agents read
    /// one language whatever the visitor's.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub prechat: std::collections::BTreeMap<String, QuestionText>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct QuestionText {
    pub label: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

impl Default for WidgetSettings {
    fn default() -> Self {
        Self {
            color: "#2151c4".into(),
            font_family: None,
            title: "Chat with us".into(),
            greeting: "Hi! How can we help?".into(),
            invite_expiry_ms: 60_000,
            out_of_hours: "message".into(),
            offline_message: "We're away right now. Leave us a message and we'll get back to you, or come back during our opening hours.".into(),
            prechat: Vec::new(),
            language: "auto".into(),
            translations: std::collections::BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PrechatKind {
    SingleLine,
    MultiLine,
    OptionSet,
    Consent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrechatQuestion {
    pub id: String,
    pub label: String,
    pub kind: PrechatKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

impl Widget {
    /// Whether a WebSocket or HTTP request carrying this `Origin` header may use the widget.
    /// Requests without an `Origin` (not from a browser) are allowed: the check protects
    /// visitors' browsers from other sites, it is not an authentication.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        let origin = origin.trim_end_matches('/');
        self.allowed_origins.iter().any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub id: QueueId,
    pub org_id: OrgId,
    pub name: String,
    /// When the queue takes chats; `None`: always.
    pub hours: Option<crate::hours::OperatingHours>,
    /// Where its chats go while it is closed or nobody of it is at work (`None`: they wait here,
    /// or are refused while closed).
    #[serde(default)]
    pub fallback_queue_id: Option<QueueId>,
    /// After this long without an agent, a waiting visitor is offered to leave a message
    /// instead (`None`: never).
    #[serde(default)]
    pub leave_message_after_secs: Option<u32>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(Role::Agent),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub org_id: OrgId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// How many conversations the agent handles at once.
    pub capacity: u32,
    /// The presence the agent last chose; effective only while a console is connected.
    pub presence: Presence,
    /// An admin disabled the account: it cannot sign in and has no sessions.
    #[serde(default)]
    pub disabled: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visitor {
    pub id: VisitorId,
    pub widget_id: WidgetId,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Visit {
    pub id: VisitId,
    pub visitor_id: VisitorId,
    /// 1 for the visitor's first visit.
    pub number: i64,
    pub started_at: Timestamp,
    pub last_activity_at: Timestamp,
    #[serde(flatten)]
    pub meta: VisitMeta,
}

/// What the browser told us about itself when the visit started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitMeta {
    pub browser: Option<String>,
    pub os: Option<String>,
    /// `desktop`, `mobile`, `tablet` or `other`.
    pub device: Option<String>,
    /// The preferred language tag, e.g. `fr-FR`.
    pub language: Option<String>,
    /// ISO 3166-1 alpha-2 country code, when it could be resolved.
    pub country: Option<String>,
    /// The city, when the GeoIP database has cities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// The address itself: only when the admin turned on `retain_visitor_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// A page a visitor viewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PageView {
    pub url: String,
    pub title: String,
    pub referrer: String,
    pub at: Timestamp,
}

/// A visitor at a glance, for the agent's visitor panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitorSummary {
    pub visitor_id: VisitorId,
    pub first_seen_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub visits: i64,
    pub page_views: i64,
    pub conversations: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    pub id: ConversationId,
    pub org_id: OrgId,
    pub widget_id: WidgetId,
    pub visitor_id: VisitorId,
    pub queue_id: Option<QueueId>,
    pub state: ConversationState,
    pub proactive: bool,
    pub agent_id: Option<AgentId>,
    /// The agent the conversation is offered to and not yet accepted by.
    pub offered_agent_id: Option<AgentId>,
    /// When that offer runs out and goes to the next agent.
    #[serde(default)]
    pub offer_expires_at: Option<Timestamp>,
    /// Custom context variables by name (see SDK.md).
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, crate::context::ContextVar>))]
    pub context: Context,
    /// Sequence number of the newest message (0 when there is none).
    pub last_seq: i64,
    /// The verified `sub` of an authenticated visitor, and its token's issuer: the person is
    /// the pair.
    pub auth_sub: Option<String>,
    #[serde(default)]
    pub auth_iss: Option<String>,
    /// The language the visitor's widget speaks (`en`, `fr`): what the server says in the
    /// conversation is in it.
    #[serde(default = "english")]
    pub language: String,
    /// The visitor's rating of the chat (1–5) and comment, once given.
    #[serde(default)]
    pub rating: Option<i64>,
    #[serde(default)]
    pub rating_comment: Option<String>,
    /// A message left for an answer by email (the widget's offline form): where answers go.
    /// Routing never offers it; agents take it from the waiting list.
    #[serde(default)]
    pub reply_email: Option<String>,
    pub created_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_allow_list() {
        let mut w = Widget {
            id: WidgetId(1),
            org_id: OrgId(1),
            key: WidgetKey::parse("demo-widget").unwrap(),
            name: "w".into(),
            allowed_origins: vec!["https://shop.example".into()],
            default_queue_id: None,
            settings: WidgetSettings::default(),
            auth: None,
            created_at: Timestamp(0),
        };
        assert!(w.allows_origin(Some("https://shop.example")));
        assert!(w.allows_origin(Some("https://SHOP.example/")));
        assert!(!w.allows_origin(Some("https://evil.example")));
        assert!(!w.allows_origin(Some("http://shop.example")));
        assert!(w.allows_origin(None));
        w.allowed_origins = vec!["*".into()];
        assert!(w.allows_origin(Some("https://evil.example")));
    }
}
