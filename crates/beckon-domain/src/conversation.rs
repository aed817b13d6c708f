//! The conversation state machine.
//!
//! ```text
//!            accept              end
//!  queued ───────────► active ─────────► ended
//!    │  ▲                │  ▲
//!    │  └──── (none) ────┘  │ accept
//!    │             transfer ▼  │
//!    │                  transferred ──end──► ended
//!    └── abandon ──► abandoned
//! ```
//! `queued` and `transferred` both wait for an agent; `ended` and `abandoned` are final.
//! A conversation the visitor leaves before any agent accepted it is *abandoned*, not ended, so
//! analytics can tell unanswered chats from finished ones. Every state change in the server goes
//! through [`ConversationState::apply`], so an impossible change is an error, not a silent write.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConversationState {
    Queued,
    Active,
    Transferred,
    Ended,
    Abandoned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// An agent accepted it.
    Accept,
    /// The agent handed it to another queue or agent.
    Transfer,
    /// Visitor, agent or system ended it.
    End,
    /// The visitor left before any agent accepted it.
    Abandon,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {transition:?} a conversation that is {from:?}")]
pub struct InvalidTransition {
    pub from: ConversationState,
    pub transition: Transition,
}

impl ConversationState {
    pub fn apply(self, t: Transition) -> Result<ConversationState, InvalidTransition> {
        use ConversationState::*;
        use Transition::*;
        match (self, t) {
            (Queued | Transferred, Accept) => Ok(Active),
            (Active, Transfer) => Ok(Transferred),
            (Queued | Active | Transferred, End) => Ok(Ended),
            (Queued, Abandon) => Ok(Abandoned),
            (from, transition) => Err(InvalidTransition { from, transition }),
        }
    }

    /// Still going on: messages may be sent, and the visitor cannot start another one.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Queued | Self::Active | Self::Transferred)
    }

    /// Waiting for an agent to accept it.
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Queued | Self::Transferred)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Active => "active",
            Self::Transferred => "transferred",
            Self::Ended => "ended",
            Self::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "active" => Self::Active,
            "transferred" => Self::Transferred,
            "ended" => Self::Ended,
            "abandoned" => Self::Abandoned,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ConversationState::*;
    use super::Transition::*;
    use super::*;

    const ALL: [ConversationState; 5] = [Queued, Active, Transferred, Ended, Abandoned];
    const TRANSITIONS: [Transition; 4] = [Accept, Transfer, End, Abandon];

    #[test]
    fn happy_path() {
        assert_eq!(Queued.apply(Accept), Ok(Active));
        assert_eq!(Active.apply(Transfer), Ok(Transferred));
        assert_eq!(Transferred.apply(Accept), Ok(Active));
        assert_eq!(Active.apply(End), Ok(Ended));
        assert_eq!(Queued.apply(Abandon), Ok(Abandoned));
    }

    #[test]
    fn final_states_accept_nothing() {
        for s in [Ended, Abandoned] {
            for t in TRANSITIONS {
                assert!(s.apply(t).is_err(), "{s:?} accepted {t:?}");
            }
        }
    }

    #[test]
    fn cannot_accept_twice_or_abandon_an_answered_chat() {
        assert!(Active.apply(Accept).is_err());
        assert!(Active.apply(Abandon).is_err());
        assert!(Transferred.apply(Abandon).is_err());
    }

    #[test]
    fn names_round_trip_and_open_states_are_the_waiting_ones_plus_active() {
        for s in ALL {
            assert_eq!(ConversationState::parse(s.as_str()), Some(s));
            assert_eq!(s.is_open(), s.is_waiting() || s == Active);
        }
    }
}
