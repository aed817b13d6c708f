//! Typed ids, so an agent id can never be passed where a conversation id is expected.
//!
//! Database rows are keyed by `i64`; the newtypes are transparent on the wire (a JSON number).
//! A widget is also known to the outside world by its public key (the `data-app-id` of the embed
//! snippet), which is a random UUID-shaped string rather than a guessable number.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(OrgId, WidgetId, QueueId, AgentId, VisitorId, VisitId, ConversationId, MessageId);

/// The public identifier of a widget, as pasted into a web page (`data-app-id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WidgetKey(String);

impl WidgetKey {
    /// Accepts 8–64 characters of ASCII letters, digits and `-`/`_` (UUIDs fit).
    pub fn parse(s: &str) -> Option<Self> {
        let ok = (8..=64).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(s.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for WidgetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widget_key_rules() {
        assert!(WidgetKey::parse("6c1a0c52-6a7e-4c71-9a4f-3b7e0a8e3d11").is_some());
        assert_eq!(WidgetKey::parse("ABCDEFGH").unwrap().as_str(), "abcdefgh");
        assert!(WidgetKey::parse("short").is_none());
        assert!(WidgetKey::parse("has space in it").is_none());
        assert!(WidgetKey::parse("<script>alert(1)</script>").is_none());
    }
}
