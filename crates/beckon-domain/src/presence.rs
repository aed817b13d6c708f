//! Agent presence: what an agent has chosen to be, as seen by routing.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Takes new conversations up to capacity.
    Available,
    /// Keeps current conversations, takes no new ones.
    Busy,
    /// Away from the desk: takes no new ones.
    Away,
    /// Signed out or no console open.
    Offline,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Available => "available",
            Presence::Busy => "busy",
            Presence::Away => "away",
            Presence::Offline => "offline",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "available" => Presence::Available,
            "busy" => Presence::Busy,
            "away" => Presence::Away,
            "offline" => Presence::Offline,
            _ => return None,
        })
    }
    pub fn takes_new_conversations(self) -> bool {
        self == Presence::Available
    }
}
